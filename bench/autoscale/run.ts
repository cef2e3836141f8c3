// The bench's matrix: every trace × cold start × policy on the same capacity model, and the summary.
import { policyConfigFromSpec } from "../../operator/src/autoscaler/policy/index.ts";
import { replicaRequestRate } from "./capacity.ts";
import { Builtin } from "./controllers/builtin.ts";
import { HpaQueue } from "./controllers/hpa-queue.ts";
import { Keda } from "./controllers/keda.ts";
import { KubeAi } from "./controllers/kubeai.ts";
import type { PolicyConfig } from "../../operator/src/autoscaler/policy/index.ts";
import type { Bounds, Controller } from "./observation.ts";
import { replay, type RunResult } from "./replay.ts";
import type { Trace } from "./traces.ts";

export const BOUNDS: Bounds = { minReplicas: 1, maxReplicas: 16 };

/**
 * The builtin's spec.autoscaling: the schema's defaults, plus a token target a platform team would
 * take from a load test of its usual mix (about 85 % of the 5,800 tokens/s a full replica generates on
 * the Azure conversation mix in the capacity model).
 */
export const BUILTIN_SPEC = {
  ...BOUNDS,
  targetQueueDepth: 4,
  targetTokensPerSecond: 5000,
  scaleUpStabilizationSeconds: 60,
  scaleDownStabilizationSeconds: 1800,
};

export function controllers(builtin: PolicyConfig = policyConfigFromSpec(BUILTIN_SPEC)): Controller[] {
  return [
    new Builtin(builtin),
    new Keda(BOUNDS),
    new HpaQueue(BOUNDS, BUILTIN_SPEC.targetQueueDepth),
    new KubeAi(BOUNDS),
  ];
}

/** Every policy starts from the replicas the first 10 minutes need at 80 % of full. */
export function initialReplicas(trace: Trace): number {
  const n = Math.min(600, trace.count.length);
  let c = 0;
  let p = 0;
  let o = 0;
  for (let t = 0; t < n; t++) {
    c += trace.count[t]!;
    p += trace.count[t]! * trace.prompt[t]!;
    o += trace.count[t]! * trace.output[t]!;
  }
  if (c === 0) return BOUNDS.minReplicas;
  const need = c / n / replicaRequestRate(p / c, o / c) / 0.8;
  return Math.min(BOUNDS.maxReplicas, Math.max(BOUNDS.minReplicas, Math.ceil(need)));
}

export interface TraceRun {
  trace: string;
  loadMinutes: number;
  /** Requests/s per SERIES_STEP, for the plot. */
  load: number[];
  results: RunResult[];
}

export function runTrace(
  trace: Trace,
  loadMinutes: number,
  waitTargetSeconds: number,
  builtin?: PolicyConfig,
): TraceRun {
  const initial = initialReplicas(trace);
  const results = controllers(builtin).map((c) =>
    replay(trace, c, { loadSeconds: loadMinutes * 60, initialReplicas: initial, waitTargetSeconds }),
  );
  const load: number[] = [];
  for (let t = 0; t < trace.count.length; t += 60) {
    let c = 0;
    const end = Math.min(trace.count.length, t + 60);
    for (let s = t; s < end; s++) c += trace.count[s]!;
    load.push(c / (end - t));
  }
  return { trace: trace.name, loadMinutes, load, results };
}

export interface Summary {
  line: string;
  best: string;
  totals: Map<string, { excessSeconds: number; violations: number; gpuHours: number; reversals: number }>;
}

/** The last line: builtin over the baseline with the least wait above target, summed over every run. */
export function summarize(runs: TraceRun[]): Summary {
  const totals = new Map<string, { excessSeconds: number; violations: number; gpuHours: number; reversals: number }>();
  for (const run of runs) {
    for (const r of run.results) {
      const t = totals.get(r.policy) ?? { excessSeconds: 0, violations: 0, gpuHours: 0, reversals: 0 };
      t.excessSeconds += r.excessSeconds;
      t.violations += r.violations;
      t.gpuHours += r.gpuHours;
      t.reversals += r.reversals;
      totals.set(r.policy, t);
    }
  }
  const builtin = totals.get("builtin")!;
  let best = "";
  for (const [name, t] of totals) {
    if (name === "builtin") continue;
    if (best === "" || t.excessSeconds < totals.get(best)!.excessSeconds) best = name;
  }
  const b = totals.get(best)!;
  const ratio = (x: number, y: number) => (y === 0 ? (x === 0 ? 0 : Infinity) : x / y);
  const line =
    `autoscale_violation_ratio=${ratio(builtin.excessSeconds, b.excessSeconds).toFixed(3)} ` +
    `gpu_hours_ratio=${ratio(builtin.gpuHours, b.gpuHours).toFixed(3)} reversals=${builtin.reversals}`;
  return { line, best, totals };
}
