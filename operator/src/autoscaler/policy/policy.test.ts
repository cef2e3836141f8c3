// Focused cases: the larger need wins, the reasons name the signal, failover with and without the
// stored state, and the config's checks.
import { describe, expect, it } from "@jest/globals";
import { checkPolicyConfig, initialPolicyState, policyConfigFromSpec } from "./config.ts";
import { decide } from "./policy.ts";
import { readFleet } from "./signals.ts";
import { at, metricsFor, phased, readyReplicas, runWorld, scaleEvents, testConfig } from "./testing.ts";
import { fitLine } from "./trend.ts";
import type { PolicyInput, PolicyState } from "./types.ts";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60;

function input(over: Partial<PolicyInput> & Pick<PolicyInput, "replicas" | "currentReplicas">): PolicyInput {
  return { config: testConfig(), loadSeconds: 600, ...over };
}

/** Decides the same input every 15 s for `seconds`, the count following the decision. */
function hold(i: PolicyInput, seconds: number, state: PolicyState = initialPolicyState()) {
  // Every scrape is fresh at the moment of the decision.
  const fresh = (now: number) => i.replicas.map((r) => (r.metrics ? { ...r, metrics: { ...r.metrics, at: now } } : r));
  let d = decide({ ...i, replicas: fresh(T0) }, state, T0);
  for (let t = 15; t <= seconds; t += 15) {
    d = decide({ ...i, currentReplicas: d.desired, replicas: fresh(T0 + t * 1000) }, d.state, T0 + t * 1000);
  }
  return d;
}

describe("needs", () => {
  it("takes the larger of queue and tokens, and names it", () => {
    const tokens = hold(
      input({
        currentReplicas: 2,
        replicas: readyReplicas(2, { at: T0, waiting: 0, running: 30, tokensPerSecond: 2500, kvCacheUsage: 0.3 }),
      }),
      0,
    );
    expect(tokens.details.needs.tokens).toBeCloseTo(5);
    expect(tokens.details.signal).toBe("tokens");
    const metrics = { waiting: 100, running: 64, tokensPerSecond: 500, kvCacheUsage: 0.3, completedPerSecond: 4 };
    const queue = decide(
      input({ currentReplicas: 2, replicas: readyReplicas(2, { at: T0, ...metrics }) }),
      initialPolicyState(),
      T0,
    );
    expect(queue.details.signal).toBe("queue");
    expect(queue.details.needs.queue!).toBeGreaterThan(queue.details.needs.tokens!);
    expect(queue.reason).toMatch(/queue: 200 waiting on 2 ready replicas \(target 4 each\)/);
  });

  it("scales up on the tokens signal with a reason that names it", () => {
    const d = hold(
      input({
        currentReplicas: 2,
        replicas: readyReplicas(2, {
          at: T0 + 60_000,
          waiting: 0,
          running: 30,
          tokensPerSecond: 2500,
          kvCacheUsage: 0.3,
        }),
      }),
      75,
    );
    expect(d.desired).toBe(5);
    expect(d.reason).toMatch(
      /^scale up 2→5: tokens: 5000\/s generated \(target 1000\/s per replica\) needs 5 replicas/,
    );
  });

  it("reads the queue as arrival rate plus backlog when finish rates are known", () => {
    const i = input({
      currentReplicas: 2,
      replicas: readyReplicas(2, {
        at: T0,
        waiting: 304,
        running: 64,
        tokensPerSecond: 1250,
        kvCacheUsage: 0.5,
        completedPerSecond: 10,
      }),
    });
    const d = decide(i, initialPolicyState(), T0);
    // Finished 20/s on 2 replicas, no growth seen yet; backlog (608 − 8) over 300 s adds 2/s: 22/10 replicas.
    expect(d.details.needs.queue).toBeCloseTo(2.2);
  });

  it("holds when no ready replica reports, and says so", () => {
    const d = hold(
      input({ currentReplicas: 3, replicas: [...readyReplicas(2, undefined), ...phased(1, "Loading")] }),
      3 * 3600,
    );
    expect(d.desired).toBe(3);
    expect(d.details.signal).toBe("none");
    expect(d.details.metrics).toBeUndefined();
  });
});

describe("rising load", () => {
  // 6 replicas; the need has climbed from about 2 to 4 over the last 20 minutes, too noisily for the
  // trend to be acted on (R² well under 0.9), while every recommendation of the down-window was 3.
  const now = T0 + 4 * 3600_000;
  const samples = Array.from({ length: 80 }, (_, i) => ({
    at: now - (80 - i) * 15_000,
    need: 2 + i / 40 + (i % 2 === 0 ? -0.9 : 0.9),
    waiting: 0,
  }));
  const state: PolicyState = {
    version: 1,
    recommendations: Array.from({ length: 120 }, (_, i) => ({ at: now - (120 - i) * 15_000, replicas: 3 })),
    samples,
    observedSince: T0,
    lastScale: { at: T0, from: 5, to: 6, direction: "up", reason: "" },
  };
  const replicas = readyReplicas(6, { at: now, waiting: 0, running: 20, tokensPerSecond: 500, kvCacheUsage: 0.2 });

  it("holds a scale-down the rising need would take back within one load time", () => {
    const d = decide(
      input({ config: testConfig({ anticipate: true }), currentReplicas: 6, replicas, loadSeconds: 1200 }),
      state,
      now,
    );
    expect(d.desired).toBe(6);
    expect(d.reason).toMatch(/no scale-down: need is rising \(\d\.\d replicas in 1200s\)/);
  });

  it("scales down when not anticipating", () => {
    const d = decide(input({ currentReplicas: 6, replicas, loadSeconds: 1200 }), state, now);
    expect(d.desired).toBe(5);
    expect(d.reason).toMatch(/^scale down 6→5: .*the highest recommendation of the last 1800s is 3/);
  });
});

describe("fleet", () => {
  it("counts phases, ignores draining replicas, treats uncreated replicas as pending and stale ones as unknown", () => {
    const f = readFleet(
      {
        config: testConfig(),
        currentReplicas: 7,
        loadSeconds: 600,
        replicas: [
          ...readyReplicas(2, metricsFor(2000, 2, T0)),
          { name: "old", phase: "Ready", metrics: { ...metricsFor(2000, 2, T0), at: T0 - 61_000 } },
          { name: "nan", phase: "Ready", metrics: { ...metricsFor(2000, 2, T0), waiting: Number.NaN } },
          ...phased(1, "Loading"),
          ...phased(1, "Draining"),
        ],
      },
      T0,
      60,
    );
    expect(f.counts).toEqual({ ready: 4, reporting: 2, unknown: 2, loading: 1, pending: 2, crashLooping: 0 });
    // Two reporting replicas at 1000 tokens/s stand for four.
    expect(f.metrics!.tokensPerSecond).toBeCloseTo(4000);
  });
});

describe("failover", () => {
  const world = (failover?: (t: number, s: PolicyState) => PolicyState | undefined) =>
    runWorld(
      {
        config: testConfig(),
        initial: 6,
        loadSeconds: 600,
        demand: (t) => (t < 30 * MIN ? 6000 : 1000),
        ...(failover ? { failover } : {}),
      },
      3 * 3600,
    );

  it("a new leader with the stored state decides exactly as the old one would have", () => {
    const plain = world();
    const carried = world((t, s) => (t === 35 * MIN ? (JSON.parse(JSON.stringify(s)) as PolicyState) : undefined));
    expect(carried.map((s) => s.decision.desired)).toEqual(plain.map((s) => s.decision.desired));
  });

  it("a new leader without the state waits a whole down-window before scaling down", () => {
    const lost = world((t) => (t === 45 * MIN ? initialPolicyState() : undefined));
    const downs = scaleEvents(lost).filter((e) => e.to < e.from);
    expect(downs[0]!.t).toBeGreaterThanOrEqual(45 * MIN + 900);
    // The new leader's windows start from the count it found.
    expect(at(lost, 45 * MIN + 600).decision.reason).toMatch(
      /no scale-down: a recommendation of the last 900s asked for 6/,
    );
  });
});

describe("config", () => {
  it("maps the spec and keeps the defaults for what the spec does not set", () => {
    const c = policyConfigFromSpec({
      minReplicas: 2,
      maxReplicas: 9,
      targetQueueDepth: 6,
      targetTokensPerSecond: 3000,
      scaleUpStabilizationSeconds: 30,
      scaleDownStabilizationSeconds: 1200,
      maxScaleDownStep: 2,
    });
    expect(c).toMatchObject({
      minReplicas: 2,
      maxReplicas: 9,
      targetQueueDepth: 6,
      targetTokensPerSecond: 3000,
      maxScaleDownStep: 2,
      tolerance: 0.1,
    });
    expect(policyConfigFromSpec({ ...c, targetTokensPerSecond: undefined }).targetTokensPerSecond).toBeUndefined();
  });

  it.each([
    [{ maxReplicas: 0 }, /maxReplicas must be/],
    [{ minReplicas: 5, maxReplicas: 4 }, /maxReplicas must be an integer >= max\(1, minReplicas=5\)/],
    [{ targetQueueDepth: 0 }, /targetQueueDepth must be > 0/],
    [{ tolerance: 1 }, /tolerance must be in \[0, 1\)/],
    [{ maxScaleUpStep: 0 }, /maxScaleUpStep must be an integer >= 1/],
    [{ targetKvCacheUsage: 1.5 }, /targetKvCacheUsage must be in \(0, 1\]/],
    [{ scaleDownLoadTimeFactor: 0.5 }, /scaleDownLoadTimeFactor must be >= 1/],
  ])("refuses %j naming the field", (over, message) => {
    expect(() => checkPolicyConfig(testConfig(over))).toThrow(message);
  });
});

describe("fitLine", () => {
  it("fits a line exactly and reports R² 1", () => {
    const f = fitLine([
      [0, 1],
      [10_000, 3],
      [20_000, 5],
    ])!;
    expect(f.slope).toBeCloseTo(0.2);
    expect(f.last).toBeCloseTo(5);
    expect(f.r2).toBeCloseTo(1);
  });

  it("gives a poor R² to a step and nothing to too few points or no time spread", () => {
    const step = fitLine(Array.from({ length: 40 }, (_, i) => [i * 15_000, i < 36 ? 3 : 9] as const))!;
    expect(step.slope).toBeGreaterThan(0);
    expect(step.r2).toBeLessThan(0.9);
    expect(
      fitLine([
        [0, 1],
        [1000, 2],
      ]),
    ).toBeUndefined();
    expect(
      fitLine([
        [5, 1],
        [5, 2],
        [5, 3],
      ]),
    ).toBeUndefined();
  });
});
