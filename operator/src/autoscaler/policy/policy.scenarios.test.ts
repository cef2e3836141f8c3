// The policy against a table of load scenarios, each run through the loop in ./testing.ts.
import { describe, expect, it } from "@jest/globals";
import {
  at,
  metricsFor,
  phased,
  readyReplicas,
  runWorld,
  scaleEvents,
  testConfig,
  type LoopStep,
  type WorldOptions,
} from "./testing.ts";
import { seededRandom } from "../../util/random.ts";

const MIN = 60;

interface Scenario {
  name: string;
  world: WorldOptions;
  seconds: number;
  check: (steps: LoopStep[]) => void;
}

const noise = seededRandom(42);
const noiseSeries = Array.from({ length: 4000 }, () => 1 + (noise() - 0.5) * 0.1);

const scenarios: Scenario[] = [
  {
    name: "spike: scales up after the up-window, to the demand, within the step limit",
    world: { config: testConfig(), initial: 2, loadSeconds: 600, demand: (t) => (t < 10 * MIN ? 2000 : 6000) },
    seconds: 40 * MIN,
    check: (steps) => {
      const ups = scaleEvents(steps).filter((e) => e.to > e.from);
      expect(ups.length).toBeGreaterThan(0);
      // The lowest recommendation of 60 s: no scale-up sooner than one window after the spike began.
      expect(ups[0]!.t).toBeGreaterThanOrEqual(10 * MIN + 60);
      expect(ups[0]!.t).toBeLessThanOrEqual(10 * MIN + 120);
      expect(ups[0]!.to - ups[0]!.from).toBeLessThanOrEqual(4);
      // Demand 6000 tokens/s at 1000 per replica: 6 replicas, not the maximum.
      const final = at(steps, 40 * MIN).current;
      expect(final).toBeGreaterThanOrEqual(6);
      expect(final).toBeLessThanOrEqual(8);
      expect(scaleEvents(steps).every((e) => e.to >= e.from)).toBe(true);
    },
  },
  {
    name: "ramp: anticipation orders capacity one load time ahead of the line",
    world: {
      config: testConfig({ anticipate: true }),
      initial: 2,
      loadSeconds: 900,
      demand: (t) => (t < 10 * MIN ? 2000 : Math.min(12000, 2000 + ((t - 10 * MIN) / (60 * MIN)) * 10000)),
    },
    seconds: 90 * MIN,
    check: (steps) => {
      const plain = runWorld(
        {
          config: testConfig(),
          initial: 2,
          loadSeconds: 900,
          demand: (t) => (t < 10 * MIN ? 2000 : Math.min(12000, 2000 + ((t - 10 * MIN) / (60 * MIN)) * 10000)),
        },
        90 * MIN,
      );
      // Replicas ordered by the middle of the ramp: more with anticipation than without.
      expect(at(steps, 40 * MIN).current).toBeGreaterThan(at(plain, 40 * MIN).current);
      expect(steps.some((s) => s.decision.details.signal === "trend")).toBe(true);
      expect(steps.find((s) => s.decision.details.signal === "trend")!.decision.reason).toMatch(/^scale up|trend/);
      expect(scaleEvents(steps).every((e) => e.to >= e.from)).toBe(true);
    },
  },
  {
    name: "noise within the tolerance around the target: no scaling at all",
    world: {
      config: testConfig({ anticipate: true }),
      initial: 4,
      loadSeconds: 600,
      demand: (t) => 4000 * noiseSeries[Math.floor(t / 15)]!,
    },
    seconds: 6 * 3600,
    check: (steps) => {
      expect(scaleEvents(steps)).toEqual([]);
      expect(steps.at(-1)!.decision.reason).toMatch(/^holding at 4/);
    },
  },
  {
    name: "metrics go stale under load, then the load stops: never scales down on stale metrics",
    world: {
      config: testConfig(),
      initial: 5,
      loadSeconds: 600,
      demand: (t) => (t < 20 * MIN ? 5000 : 0),
      observe: (t, ready, loading, demand, now) => {
        // The scrapes stop at 10 min; the last values (busy) keep their old timestamp.
        const stale = metricsFor(5000, ready, Date.UTC(2026, 0, 1) + 10 * MIN * 1000);
        return [
          ...readyReplicas(ready, t < 10 * MIN ? metricsFor(demand, ready, now) : stale),
          ...phased(loading, "Loading"),
        ];
      },
    },
    seconds: 4 * 3600,
    check: (steps) => {
      expect(scaleEvents(steps)).toEqual([]);
      const late = at(steps, 3 * 3600).decision;
      expect(late.details.counts.unknown).toBe(5);
      expect(late.details.metrics).toBeUndefined();
    },
  },
  {
    name: "one replica without metrics while the others idle: no scale-down, and it says why",
    world: {
      config: testConfig(),
      initial: 4,
      loadSeconds: 600,
      demand: () => 0,
      observe: (_t, ready, _l, _d, now) => [
        ...readyReplicas(ready - 1, metricsFor(0, ready, now)),
        { name: "silent", phase: "Ready" },
      ],
    },
    seconds: 3 * 3600,
    check: (steps) => {
      expect(scaleEvents(steps)).toEqual([]);
      expect(steps.at(-1)!.decision.reason).toMatch(/no scale-down: 1 ready replicas have missing or stale metrics/);
    },
  },
  {
    name: "a replica with missing metrics is not idle: its share is extrapolated when scaling up",
    world: {
      config: testConfig(),
      initial: 4,
      loadSeconds: 600,
      demand: () => 4800,
      observe: (_t, _ready, loading, _d, now) => [
        ...readyReplicas(3, metricsFor(4800, 4, now)),
        { name: "silent", phase: "Ready" },
        ...phased(loading, "Loading"),
      ],
    },
    seconds: 2 * MIN,
    check: (steps) => {
      // 3 replicas at 1200 tokens/s read as 4 × 1200: 4.8 replicas' worth, so 5. Read as idle, the
      // silent one would make it 3.6, inside the tolerance of 4.
      const up = steps.find((s) => s.decision.details.direction === "up")!;
      expect(up.decision.desired).toBe(5);
      expect(up.decision.details.metrics!.tokensPerSecond).toBeCloseTo(4800);
    },
  },
  {
    name: "replicas still loading count as coming capacity: no second order while they load",
    world: {
      config: testConfig(),
      initial: 2,
      loadSeconds: 1800,
      // Full, queueing, with finish rates: the queue grows while replicas load, demand itself is flat.
      demand: () => 5000,
      observe: (t, ready, loading, _d, now) => {
        const waiting = 5 + (t / 15) * 3;
        return [
          ...readyReplicas(ready, {
            at: now,
            waiting,
            running: 64,
            tokensPerSecond: 1250,
            kvCacheUsage: 0.6,
            completedPerSecond: 5,
          }),
          ...phased(loading, "Loading"),
        ];
      },
    },
    seconds: 25 * MIN,
    check: (steps) => {
      const ups = scaleEvents(steps).filter((e) => e.to > e.from);
      expect(ups.length).toBeGreaterThan(0);
      const ordered = at(steps, 25 * MIN).current;
      // Arrival = 10 finished/s + 0.2/s queue growth on 5/s per replica, plus the backlog over 300 s.
      expect(ordered).toBeLessThanOrEqual(6);
      const last = at(steps, 25 * MIN).decision;
      expect(last.details.counts.loading).toBe(ordered - 2);
      expect(last.reason).toMatch(/loading \(coming capacity\)/);
    },
  },
  {
    name: "a crash-looping replica is not capacity: it is replaced, not counted",
    world: {
      config: testConfig(),
      initial: 4,
      loadSeconds: 600,
      demand: () => 4000,
      observe: (_t, ready, loading, _d, now) => [
        ...readyReplicas(3, metricsFor(4000, 3, now)),
        ...phased(1, "CrashLooping"),
        ...readyReplicas(Math.max(0, ready - 4), metricsFor(4000, 3, now), "n"),
        ...phased(loading, "Loading"),
      ],
    },
    seconds: 5 * MIN,
    check: (steps) => {
      // 3 working replicas read 4000 tokens/s: 4 working replicas are needed, plus the broken one.
      expect(at(steps, 5 * MIN).current).toBe(5);
      expect(steps.at(-1)!.decision.details.counts.crashLooping).toBe(1);
      expect(scaleEvents(steps)[0]!.t).toBeGreaterThanOrEqual(60);
    },
  },
  {
    name: "GPU shortage: the recommendation stands and the unplaceable replicas are reported",
    world: {
      config: testConfig(),
      initial: 4,
      loadSeconds: 600,
      demand: () => 8000,
      placeableReplicas: () => 2,
      observe: (_t, ready, loading, _d, now) => [
        ...readyReplicas(ready, { at: now, waiting: 0, running: 40, tokensPerSecond: 8000 / ready, kvCacheUsage: 0.5 }),
        ...phased(loading, "Loading"),
      ],
    },
    seconds: 2 * MIN,
    check: (steps) => {
      const up = steps.find((s) => s.decision.details.direction === "up")!;
      expect(up.decision.desired).toBe(8);
      expect(up.decision.details.unplaceable).toBe(2);
      expect(up.decision.reason).toMatch(/2 desired replicas cannot be placed on free GPUs/);
    },
  },
  {
    name: "maxReplicas caps a runaway demand",
    world: { config: testConfig({ maxReplicas: 6 }), initial: 2, loadSeconds: 600, demand: () => 100000 },
    seconds: 30 * MIN,
    check: (steps) => {
      expect(Math.max(...steps.map((s) => s.decision.desired))).toBe(6);
      expect(at(steps, 30 * MIN).current).toBe(6);
    },
  },
  {
    name: "minReplicas holds an idle deployment up, and a count below it is raised at once",
    world: {
      config: testConfig({ minReplicas: 3, scaleDownStabilizationSeconds: 300 }),
      initial: 1,
      loadSeconds: 600,
      demand: () => 0,
    },
    seconds: 3 * 3600,
    check: (steps) => {
      expect(steps[0]!.decision.desired).toBe(3);
      expect(steps[0]!.decision.details.signal).toBe("min");
      expect(Math.min(...steps.slice(1).map((s) => s.decision.desired))).toBe(3);
    },
  },
  {
    name: "a count above maxReplicas comes down at once",
    world: { config: testConfig({ maxReplicas: 4 }), initial: 7, loadSeconds: 600, demand: () => 20000 },
    seconds: 0,
    check: (steps) => {
      expect(steps[0]!.decision.desired).toBe(4);
      expect(steps[0]!.decision.details.signal).toBe("max");
    },
  },
  {
    name: "scale-down waits longer than the load time even when the window is shorter",
    world: {
      config: testConfig({ scaleDownStabilizationSeconds: 300 }),
      initial: 6,
      loadSeconds: 1200,
      demand: (t) => (t < 60 * MIN ? 6000 : 2000),
    },
    seconds: 4 * 3600,
    check: (steps) => {
      const downs = scaleEvents(steps).filter((e) => e.to < e.from);
      expect(downs.length).toBeGreaterThan(0);
      // 1.5 × 1200 s after the drop, not 300 s.
      expect(downs[0]!.t).toBeGreaterThanOrEqual(60 * MIN + 1800);
      expect(steps[0]!.decision.details.scaleDownWindowSeconds).toBe(1800);
      expect(at(steps, 4 * 3600).current).toBe(2);
      expect(downs.every((e) => e.from - e.to === 1)).toBe(true);
      expect(downs[0]!.t).toBeLessThanOrEqual(60 * MIN + 1800 + 60);
    },
  },
  {
    name: "KV-cache pressure is a guard: it scales up when KV is the tighter constraint",
    world: {
      config: testConfig(),
      initial: 2,
      loadSeconds: 600,
      demand: () => 1000,
      observe: (_t, ready, loading, _d, now) => [
        ...readyReplicas(ready, { ...metricsFor(1000, ready, now), kvCacheUsage: ready <= 2 ? 1 : 0.6 }),
        ...phased(loading, "Loading"),
      ],
    },
    seconds: 3 * MIN,
    check: (steps) => {
      const up = steps.find((s) => s.decision.details.direction === "up")!;
      expect(up.decision.details.signal).toBe("kv-cache");
      expect(up.decision.desired).toBe(3);
      expect(up.decision.reason).toMatch(/kv-cache: 100% used/);
    },
  },
];

describe("autoscaling policy scenarios", () => {
  it.each(scenarios.map((s) => [s.name, s] as const))("%s", (_name, s) => {
    const steps = runWorld(s.world, s.seconds);
    for (const step of steps) {
      expect(step.decision.desired).toBeGreaterThanOrEqual(s.world.config.minReplicas);
      expect(step.decision.desired).toBeLessThanOrEqual(s.world.config.maxReplicas);
      expect(step.decision.reason.length).toBeGreaterThan(0);
    }
    s.check(steps);
  });
});
