// Defaults of the policy's tuning and the mapping from the DeepSeekDeployment's spec.autoscaling.
import type { PolicyConfig, PolicyState } from "./types.ts";

/** The spec.autoscaling fields the policy reads (structural, so the API module stays free to move). */
export interface AutoscalingSpecFields {
  minReplicas: number;
  maxReplicas: number;
  targetQueueDepth: number;
  targetTokensPerSecond?: number | undefined;
  scaleUpStabilizationSeconds: number;
  scaleDownStabilizationSeconds: number;
  tolerance?: number | undefined;
  maxScaleUpStep?: number | undefined;
  maxScaleDownStep?: number | undefined;
  targetKvCacheUsage?: number | undefined;
}

export const POLICY_DEFAULTS: Omit<PolicyConfig, "minReplicas" | "maxReplicas"> = {
  targetQueueDepth: 4,
  targetKvCacheUsage: 0.9,
  scaleUpStabilizationSeconds: 60,
  scaleDownStabilizationSeconds: 1800,
  // A replica removed and needed again costs a whole load; holding it 1.5 load times costs less than
  // one avoidable cold start whenever a dip is shorter than that.
  scaleDownLoadTimeFactor: 1.5,
  tolerance: 0.1,
  // HPA's default scale-up policy allows 4 pods per period; a replica here is 4-8 GPUs, so the same
  // 4 is already a large step.
  maxScaleUpStep: 4,
  maxScaleDownStep: 1,
  metricsStaleAfterSeconds: 60,
  anticipate: true,
  trendWindowSeconds: 600,
  trendMinR2: 0.9,
};

export function policyConfigFromSpec(spec: AutoscalingSpecFields): PolicyConfig {
  const config: PolicyConfig = {
    ...POLICY_DEFAULTS,
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    targetQueueDepth: spec.targetQueueDepth,
    scaleUpStabilizationSeconds: spec.scaleUpStabilizationSeconds,
    scaleDownStabilizationSeconds: spec.scaleDownStabilizationSeconds,
  };
  if (spec.targetTokensPerSecond !== undefined) config.targetTokensPerSecond = spec.targetTokensPerSecond;
  if (spec.tolerance !== undefined) config.tolerance = spec.tolerance;
  if (spec.maxScaleUpStep !== undefined) config.maxScaleUpStep = spec.maxScaleUpStep;
  if (spec.maxScaleDownStep !== undefined) config.maxScaleDownStep = spec.maxScaleDownStep;
  if (spec.targetKvCacheUsage !== undefined) config.targetKvCacheUsage = spec.targetKvCacheUsage;
  return config;
}

/** The config's own consistency; the admission webhook refuses the spec, this guards other callers. */
export function checkPolicyConfig(c: PolicyConfig): void {
  const fail = (field: string, want: string, got: unknown) => {
    throw new RangeError(`autoscaling policy: ${field} must be ${want}, got ${String(got)}`);
  };
  if (!Number.isInteger(c.minReplicas) || c.minReplicas < 0) fail("minReplicas", "an integer >= 0", c.minReplicas);
  if (!Number.isInteger(c.maxReplicas) || c.maxReplicas < Math.max(1, c.minReplicas)) {
    fail("maxReplicas", `an integer >= max(1, minReplicas=${c.minReplicas})`, c.maxReplicas);
  }
  if (!(c.targetQueueDepth > 0)) fail("targetQueueDepth", "> 0", c.targetQueueDepth);
  if (c.targetTokensPerSecond !== undefined && !(c.targetTokensPerSecond > 0)) {
    fail("targetTokensPerSecond", "> 0", c.targetTokensPerSecond);
  }
  if (!(c.targetKvCacheUsage > 0 && c.targetKvCacheUsage <= 1))
    fail("targetKvCacheUsage", "in (0, 1]", c.targetKvCacheUsage);
  if (!(c.tolerance >= 0 && c.tolerance < 1)) fail("tolerance", "in [0, 1)", c.tolerance);
  for (const k of ["maxScaleUpStep", "maxScaleDownStep"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) fail(k, "an integer >= 1", c[k]);
  }
  for (const k of [
    "scaleUpStabilizationSeconds",
    "scaleDownStabilizationSeconds",
    "metricsStaleAfterSeconds",
  ] as const) {
    if (!(c[k] >= 0)) fail(k, ">= 0", c[k]);
  }
  if (!(c.scaleDownLoadTimeFactor >= 1)) fail("scaleDownLoadTimeFactor", ">= 1", c.scaleDownLoadTimeFactor);
}

export function initialPolicyState(): PolicyState {
  return { version: 1, recommendations: [], samples: [] };
}
