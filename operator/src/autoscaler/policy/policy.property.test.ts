// Properties over arbitrary load, metric gaps and timings: no direction reversal inside a
// stabilization window, bounds and step limits hold, stale metrics never scale down, and the state
// survives a JSON round trip (it is stored in the object between decisions).
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { decide } from "./policy.ts";
import { initialPolicyState, POLICY_DEFAULTS } from "./config.ts";
import type { PolicyConfig, PolicyState, ReplicaObservation } from "./types.ts";

const configArb = fc
  .record({
    minReplicas: fc.integer({ min: 1, max: 3 }),
    extra: fc.integer({ min: 0, max: 15 }),
    targetQueueDepth: fc.constantFrom(1, 4, 10),
    targetTokensPerSecond: fc.option(fc.constantFrom(500, 1000, 4000), { nil: undefined }),
    scaleUpStabilizationSeconds: fc.integer({ min: 0, max: 300 }),
    scaleDownStabilizationSeconds: fc.integer({ min: 0, max: 3600 }),
    tolerance: fc.constantFrom(0, 0.05, 0.1, 0.3),
    maxScaleUpStep: fc.integer({ min: 1, max: 4 }),
    maxScaleDownStep: fc.integer({ min: 1, max: 3 }),
    anticipate: fc.boolean(),
  })
  .map(({ extra, targetTokensPerSecond, ...c }): PolicyConfig => ({
    ...POLICY_DEFAULTS,
    ...c,
    maxReplicas: c.minReplicas + extra,
    ...(targetTokensPerSecond !== undefined ? { targetTokensPerSecond } : {}),
  }));

const stepArb = fc.record({
  dt: fc.integer({ min: 1, max: 300 }),
  waiting: fc.integer({ min: 0, max: 400 }),
  running: fc.integer({ min: 0, max: 64 }),
  tps: fc.integer({ min: 0, max: 4000 }),
  kv: fc.double({ min: 0, max: 1, noNaN: true }),
  completed: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
  staleMask: fc.integer({ min: 0, max: 7 }),
  staleChance: fc.constantFrom(0, 0, 0, 1),
  loading: fc.integer({ min: 0, max: 3 }),
  crash: fc.integer({ min: 0, max: 1 }),
  placeable: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
});

const runArb = fc.record({
  config: configArb,
  loadSeconds: fc.integer({ min: 0, max: 3600 }),
  initial: fc.integer({ min: 0, max: 25 }),
  steps: fc.array(stepArb, { minLength: 20, maxLength: 120 }),
});

/** A plain throw: fast-check shrinks on it, and it keeps 20,000 decisions per run cheap. */
function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

describe("autoscaling policy properties", () => {
  it("never reverses direction inside a stabilization window, keeps bounds and steps, never scales down blind", () => {
    fc.assert(
      fc.property(runArb, ({ config, loadSeconds, initial, steps }) => {
        const downWindow = Math.max(config.scaleDownStabilizationSeconds, config.scaleDownLoadTimeFactor * loadSeconds);
        let state: PolicyState = initialPolicyState();
        let current = initial;
        let now = Date.UTC(2026, 0, 1);
        let last: { at: number; dir: 1 | -1 } | undefined;
        for (const s of steps) {
          now += s.dt * 1000;
          const loading = Math.min(s.loading, current);
          const crash = Math.min(s.crash, current - loading);
          const ready = current - loading - crash;
          const replicas: ReplicaObservation[] = [];
          let blind = false;
          for (let i = 0; i < ready; i++) {
            const stale = s.staleChance === 1 && ((s.staleMask >> (i % 3)) & 1) === 1;
            blind ||= stale;
            replicas.push({
              name: `r${i}`,
              phase: "Ready",
              metrics: {
                at: stale ? now - 3600_000 : now,
                waiting: s.waiting,
                running: s.running,
                tokensPerSecond: s.tps,
                kvCacheUsage: s.kv,
                ...(s.completed !== undefined ? { completedPerSecond: s.completed } : {}),
              },
            });
          }
          for (let i = 0; i < loading; i++) replicas.push({ name: `l${i}`, phase: "Loading" });
          for (let i = 0; i < crash; i++) replicas.push({ name: `c${i}`, phase: "CrashLooping" });
          const input = {
            config,
            currentReplicas: current,
            replicas,
            loadSeconds,
            ...(s.placeable !== undefined ? { placeableReplicas: s.placeable } : {}),
          };
          const d = decide(input, state, now);
          // Plain data: what is stored is what is read back.
          const stored = JSON.parse(JSON.stringify(d.state)) as PolicyState;
          check(JSON.stringify(stored) === JSON.stringify(d.state), "state survives a JSON round trip");
          state = stored;

          const inBounds = current >= config.minReplicas && current <= config.maxReplicas;
          if (!inBounds) {
            const clamped = Math.min(config.maxReplicas, Math.max(config.minReplicas, current));
            check(d.desired === clamped, `out of bounds ${current} goes to ${clamped}, got ${d.desired}`);
          } else {
            check(d.desired >= config.minReplicas && d.desired <= config.maxReplicas, `bounds: ${d.desired}`);
            check(d.desired - current <= config.maxScaleUpStep, `up step ${current}→${d.desired}`);
            check(current - d.desired <= config.maxScaleDownStep, `down step ${current}→${d.desired}`);
            if (blind) check(d.desired >= current, `scaled down ${current}→${d.desired} with stale metrics`);
          }
          check(d.details.unplaceable >= 0, "unplaceable is a count");
          if (d.desired !== current && inBounds) {
            const dir = d.desired > current ? 1 : -1;
            if (last !== undefined && last.dir !== dir) {
              const window = dir === -1 ? downWindow : config.scaleUpStabilizationSeconds;
              const gap = (now - last.at) / 1000;
              check(gap >= window, `reversal after ${gap}s inside a ${window}s window`);
            }
            last = { at: now, dir };
          }
          current = d.desired;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("is deterministic: the same inputs and state give the same decision", () => {
    fc.assert(
      fc.property(runArb, ({ config, loadSeconds, initial, steps }) => {
        let state: PolicyState = initialPolicyState();
        let now = Date.UTC(2026, 0, 1);
        for (const s of steps.slice(0, 10)) {
          now += s.dt * 1000;
          const replicas: ReplicaObservation[] = [
            {
              name: "a",
              phase: "Ready",
              metrics: { at: now, waiting: s.waiting, running: s.running, tokensPerSecond: s.tps, kvCacheUsage: s.kv },
            },
          ];
          const input = { config, currentReplicas: Math.max(1, initial), replicas, loadSeconds };
          const a = decide(input, state, now);
          const b = decide(input, JSON.parse(JSON.stringify(state)) as PolicyState, now);
          expect(b).toEqual(a);
          state = a.state;
        }
      }),
      { numRuns: 100 },
    );
  });
});
