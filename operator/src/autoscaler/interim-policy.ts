// A deliberately simple stand-in for the pure policy (operator/src/autoscaler/policy/, which
// replaces it): HPA's formula on queue depth and on tokens/s (the larger need wins), HPA's
// tolerance and stabilization windows, step limits, min and max; stale or missing metrics never
// let it scale down; scale-down also waits longer than the measured load time.
import type { Policy, PolicyInput, PolicyState, Recommendation } from "./policy-contract.ts";

/** Keep only what can still decide a window: within the longest window, and not overridden by a later entry. */
export function compactRecommendations(recs: Recommendation[], nowMs: number, windowMs: number): Recommendation[] {
  const inWindow = recs.filter((r) => nowMs - r.atMs <= windowMs).sort((a, b) => a.atMs - b.atMs);
  // An entry matters for a max-window while no later one is >= it, for a min-window while no later one is <= it.
  const out: Recommendation[] = [];
  let laterMax = -Infinity;
  let laterMin = Infinity;
  for (let i = inWindow.length - 1; i >= 0; i--) {
    const r = inWindow[i]!;
    if (r.replicas > laterMax || r.replicas < laterMin) out.push(r);
    laterMax = Math.max(laterMax, r.replicas);
    laterMin = Math.min(laterMin, r.replicas);
  }
  return out.reverse();
}

function need(input: PolicyInput): { raw: number; why: string; unknown: boolean } {
  const c = input.config;
  const capacity = Math.max(1, input.readyReplicas + input.loadingReplicas);
  const fresh = input.pods.filter((p) => p.state === "fresh");
  const unknown =
    input.source === "Prometheus"
      ? input.totals === undefined
      : fresh.length < input.pods.length || input.readyReplicas === 0;
  const queue = input.totals?.queueDepth ?? fresh.reduce((a, p) => a + (p.waiting ?? 0), 0);
  const tps = input.totals?.tokensPerSecond ?? fresh.reduce((a, p) => a + (p.tokensPerSecond ?? 0), 0);
  const hpa = (total: number, target: number) => {
    const ratio = total / capacity / target;
    return Math.abs(ratio - 1) <= c.tolerance ? capacity : Math.ceil(capacity * ratio);
  };
  const byQueue = hpa(queue, c.targetQueueDepth);
  const byTokens = c.targetTokensPerSecond ? hpa(tps, c.targetTokensPerSecond) : 0;
  const raw = Math.max(byQueue, byTokens);
  const why =
    byTokens > byQueue
      ? `${tps.toFixed(0)} tokens/s over ${capacity} replica(s), target ${c.targetTokensPerSecond}/replica`
      : `${queue} waiting over ${capacity} replica(s), target ${c.targetQueueDepth}/replica`;
  return { raw, why, unknown };
}

export const interimPolicy: Policy = (input, state, nowMs) => {
  const c = input.config;
  const current = input.currentReplicas;
  const { raw, why, unknown } = need(input);
  let rec = Math.min(c.maxReplicas, Math.max(c.minReplicas, raw));
  const kvHot = input.pods.some((p) => (p.kvCacheUsage ?? 0) >= c.targetKvCacheUsage);
  if (rec < current && (unknown || kvHot)) rec = current;
  const downWindowMs = Math.max(c.scaleDownStabilizationSeconds, (input.loadTimeSeconds ?? 0) * 1.5) * 1000;
  const upWindowMs = c.scaleUpStabilizationSeconds * 1000;
  const recs = [...state.recommendations, { atMs: nowMs, replicas: rec }];
  const within = (ms: number) => recs.filter((r) => nowMs - r.atMs <= ms).map((r) => r.replicas);
  let desired = current;
  let reason: string;
  if (rec > current) {
    desired = Math.max(current, Math.min(Math.min(...within(upWindowMs)), current + c.scaleUpMaxStep));
    reason =
      desired > current
        ? `scale up: ${why}`
        : `holding ${current}: scale-up window (${c.scaleUpStabilizationSeconds}s)`;
  } else if (rec < current) {
    desired = Math.min(current, Math.max(Math.max(...within(downWindowMs)), current - c.scaleDownMaxStep));
    reason =
      desired < current
        ? `scale down: ${why}`
        : `holding ${current}: scale-down window (${Math.round(downWindowMs / 1000)}s)`;
  } else {
    reason = unknown
      ? `holding ${current}: metrics missing or stale on some replicas`
      : kvHot
        ? `holding ${current}: KV cache above ${c.targetKvCacheUsage}`
        : `steady: ${why}`;
  }
  desired = Math.min(c.maxReplicas, Math.max(c.minReplicas, desired));
  const next: PolicyState = {
    recommendations: compactRecommendations(recs, nowMs, Math.max(downWindowMs, upWindowMs)),
    ...(desired !== current
      ? { lastScaleAtMs: nowMs }
      : state.lastScaleAtMs !== undefined
        ? { lastScaleAtMs: state.lastScaleAtMs }
        : {}),
  };
  return { desired, reason, state: next };
};
