// Test helpers: a small fleet whose metrics follow a demand in generated tokens/s, and a loop that
// applies each decision the way the autoscaler does (spec.replicas follows `desired`, new replicas load
// for `loadSeconds` before they serve).
import { decide } from "./policy.ts";
import { initialPolicyState, POLICY_DEFAULTS } from "./config.ts";
import type {
  PolicyConfig,
  PolicyDecision,
  PolicyInput,
  PolicyState,
  ReplicaMetrics,
  ReplicaObservation,
} from "./types.ts";

/** Tokens/s a replica generates when full; the tests' target is 80 % of it. */
export const FULL_TPS = 1250;
export const SLOTS = 64;

export function testConfig(over: Partial<PolicyConfig> = {}): PolicyConfig {
  return {
    ...POLICY_DEFAULTS,
    minReplicas: 1,
    maxReplicas: 20,
    targetQueueDepth: 4,
    targetTokensPerSecond: 1000,
    scaleUpStabilizationSeconds: 60,
    scaleDownStabilizationSeconds: 600,
    anticipate: false,
    ...over,
  };
}

/** Per-replica metrics of `ready` replicas sharing a demand of `demand` tokens/s. */
export function metricsFor(
  demand: number,
  ready: number,
  at: number,
  extra: Partial<ReplicaMetrics> = {},
): ReplicaMetrics {
  const per = demand / Math.max(1, ready);
  const served = Math.min(per, FULL_TPS);
  const over = per > FULL_TPS;
  return {
    at,
    waiting: over ? Math.round((per / FULL_TPS - 1) * SLOTS) + 5 : 0,
    running: Math.round((served / FULL_TPS) * SLOTS),
    tokensPerSecond: served,
    kvCacheUsage: (0.6 * served) / FULL_TPS,
    ...extra,
  };
}

export function readyReplicas(n: number, m: ReplicaMetrics | undefined, prefix = "r"): ReplicaObservation[] {
  return Array.from({ length: n }, (_, i) =>
    m === undefined ? { name: `${prefix}${i}`, phase: "Ready" } : { name: `${prefix}${i}`, phase: "Ready", metrics: m },
  );
}

export function phased(n: number, phase: ReplicaObservation["phase"], prefix = phase): ReplicaObservation[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, phase }));
}

export interface LoopStep {
  t: number;
  current: number;
  decision: PolicyDecision;
}

export interface WorldOptions {
  config: PolicyConfig;
  initial: number;
  loadSeconds: number;
  /** Demand in tokens/s at second t. */
  demand: (t: number) => number;
  /** Seconds between decisions. */
  period?: number;
  /** Override what the policy sees at t (e.g. stale metrics); default: every ready replica reports. */
  observe?: (t: number, ready: number, loading: number, demand: number, now: number) => ReplicaObservation[];
  placeableReplicas?: (t: number) => number | undefined;
  /** Replace the state at t (a failover): return the state the new leader starts from. */
  failover?: (t: number, state: PolicyState) => PolicyState | undefined;
}

/** Runs the loop for `seconds`; replicas created at t are ready at t + loadSeconds. */
export function runWorld(o: WorldOptions, seconds: number): LoopStep[] {
  const period = o.period ?? 15;
  const t0 = Date.UTC(2026, 0, 1);
  let state = initialPolicyState();
  const readyAt: number[] = Array.from({ length: o.initial }, () => -Infinity);
  const steps: LoopStep[] = [];
  for (let t = 0; t <= seconds; t += period) {
    const now = t0 + t * 1000;
    const ready = readyAt.filter((r) => r <= t).length;
    const loading = readyAt.length - ready;
    const demand = o.demand(t);
    const replicas = o.observe
      ? o.observe(t, ready, loading, demand, now)
      : [...readyReplicas(ready, metricsFor(demand, ready, now)), ...phased(loading, "Loading")];
    const placeable = o.placeableReplicas?.(t);
    const input: PolicyInput = {
      config: o.config,
      currentReplicas: readyAt.length,
      replicas,
      loadSeconds: o.loadSeconds,
      ...(placeable !== undefined ? { placeableReplicas: placeable } : {}),
    };
    state = o.failover?.(t, state) ?? state;
    const decision = decide(input, state, now);
    state = decision.state;
    steps.push({ t, current: readyAt.length, decision });
    // New replicas load; removed ones go youngest (still loading) first.
    readyAt.sort((a, b) => a - b);
    while (readyAt.length < decision.desired) readyAt.push(t + o.loadSeconds);
    readyAt.length = Math.min(readyAt.length, decision.desired);
  }
  return steps;
}

export function scaleEvents(steps: LoopStep[]): Array<{ t: number; from: number; to: number }> {
  return steps
    .filter((s) => s.decision.desired !== s.current)
    .map((s) => ({ t: s.t, from: s.current, to: s.decision.desired }));
}

export function at(steps: LoopStep[], t: number): LoopStep {
  const s = [...steps].reverse().find((x) => x.t <= t);
  if (!s) throw new Error(`no step at or before ${t}`);
  return s;
}
