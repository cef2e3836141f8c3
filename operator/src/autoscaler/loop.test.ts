// The loop's pure helpers: what it remembers across a failover, when it writes status, what status
// shows; and the interim policy's guarantees the loop relies on (no scale-down on unknown load).
import { describe, expect, it } from "@jest/globals";
import { parseSpec } from "../api/index.ts";
import { liveMetrics, observations, restoreState, worthWriting } from "./loop.ts";
import { decide, initialPolicyState, policyConfigFromSpec } from "./policy/index.ts";
import { census, type EnginePod } from "./replicas.ts";

describe("admission", () => {
  it("refuses minReplicas 0 with Builtin, naming the field and the reason", () => {
    const p = parseSpec({
      model: { revision: "60d8d70770c6776ff598c94bb586a859a38244f1" },
      autoscaling: { mode: "Builtin", minReplicas: 0, maxReplicas: 2 },
    });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.errors.map((e) => e.message).join()).toMatch(/spec\.autoscaling\.minReplicas 0 needs/);
    const keda = parseSpec({
      model: { revision: "60d8d70770c6776ff598c94bb586a859a38244f1" },
      autoscaling: { mode: "KEDA", minReplicas: 0, maxReplicas: 2, metrics: { prometheus: { url: "http://p:9090" } } },
    });
    expect(keda.ok).toBe(true);
  });
});

describe("memory across a failover", () => {
  it("restores the policy's state from status, and starts afresh from an unreadable one", () => {
    const state = { ...initialPolicyState(), recommendations: [{ at: 1000, replicas: 3 }], observedSince: 1000 };
    expect(restoreState({ autoscaling: { policyState: JSON.stringify(state) } })).toEqual(state);
    expect(restoreState({ autoscaling: { policyState: "{not json" } })).toEqual(initialPolicyState());
    expect(restoreState({ autoscaling: { policyState: '{"version":2}' } })).toEqual(initialPolicyState());
    expect(restoreState(undefined)).toEqual(initialPolicyState());
  });
});

describe("what the policy reads", () => {
  const pod = (name: string, ready: boolean): EnginePod => ({
    metadata: { name, uid: name },
    status: { phase: "Running", podIP: "127.0.0.9", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  });
  const c = census([pod("a", true), pod("b", true), pod("c", true), pod("d", false)]);

  it("a stale replica keeps its old reading time, a missing one has none, a loading one is Loading", () => {
    const obs = observations(
      c,
      [
        { uid: "a", name: "a", state: "fresh", waiting: 2, running: 3, tokensPerSecond: 40, readAtMs: 9000 },
        { uid: "b", name: "b", state: "stale", waiting: 0, running: 0, readAtMs: 1000 },
        { uid: "c", name: "c", state: "missing" },
      ],
      undefined,
      10_000,
    );
    expect(obs).toEqual([
      {
        name: "a",
        phase: "Ready",
        metrics: { at: 9000, waiting: 2, running: 3, tokensPerSecond: 40, kvCacheUsage: 0 },
      },
      { name: "b", phase: "Ready", metrics: { at: 1000, waiting: 0, running: 0, tokensPerSecond: 0, kvCacheUsage: 0 } },
      { name: "c", phase: "Ready" },
      { name: "d", phase: "Loading" },
    ]);
  });

  it("the policy never scales down on what the loop hands it while a replica is unread", () => {
    const spec = parseSpec({
      model: { revision: "60d8d70770c6776ff598c94bb586a859a38244f1" },
      autoscaling: { mode: "Builtin", minReplicas: 1, maxReplicas: 8, scaleDownStabilizationSeconds: 0 },
    });
    if (!spec.ok) throw new Error("spec");
    const idle = { uid: "a", name: "a", state: "fresh" as const, waiting: 0, running: 0, tokensPerSecond: 0 };
    let state = initialPolicyState();
    for (let t = 0; t <= 3_600_000; t += 15_000) {
      const replicas = observations(
        c,
        [
          { ...idle, readAtMs: t },
          { ...idle, uid: "b", name: "b", readAtMs: t },
        ],
        undefined,
        t,
      );
      const d = decide(
        {
          config: policyConfigFromSpec(spec.value.autoscaling),
          currentReplicas: 4,
          replicas,
          loadSeconds: 60,
        },
        state,
        t,
      );
      expect(d.desired).toBe(4);
      state = d.state;
    }
  });

  it("Prometheus totals are shared by the ready replicas", () => {
    const obs = observations(c, [], { queueDepth: 9, runningRequests: 6, tokensPerSecond: 300 }, 5000);
    expect(obs[0]!.metrics).toEqual({ at: 5000, waiting: 3, running: 2, tokensPerSecond: 100, kvCacheUsage: 0 });
    expect(obs[3]!.metrics).toBeUndefined();
  });
});

describe("status", () => {
  const written = (queueDepth: number, desiredReplicas = 2) => ({
    metrics: { queueDepth, runningRequests: 1, tokensPerSecond: 100, replicasReporting: 2, replicasStale: 0 },
    autoscaling: { desiredReplicas, reason: "steady", policyState: "{}" },
  });

  it("writes only what a reader would notice", () => {
    expect(worthWriting(undefined, written(0), 0)).toBe(true);
    expect(worthWriting(written(10), written(10.5), 20_000)).toBe(false);
    expect(worthWriting(written(10), written(12), 20_000)).toBe(true);
    expect(worthWriting(written(0), written(0, 3), 20_000)).toBe(true);
  });

  it("sums the fresh replicas and says how many were stale", () => {
    const m = liveMetrics(
      "Pods",
      [
        { uid: "a", name: "a", state: "fresh", waiting: 3, running: 2, tokensPerSecond: 50.04, kvCacheUsage: 0.2 },
        { uid: "b", name: "b", state: "stale", waiting: 100, running: 9 },
      ],
      undefined,
      Date.parse("2026-12-04T10:00:00Z"),
    );
    expect(m).toEqual({
      source: "Pods",
      sampledAt: "2026-12-04T10:00:00Z",
      replicasReporting: 1,
      replicasStale: 1,
      queueDepth: 3,
      runningRequests: 2,
      tokensPerSecond: 50,
      kvCacheUsage: 0.2,
    });
  });
});

describe("census", () => {
  const pod = (name: string, status: EnginePod["status"], labels: Record<string, string> = {}): EnginePod => ({
    metadata: { name, uid: name, creationTimestamp: "2026-12-04T10:00:00Z", labels },
    status,
  });
  const ready = (at: string) => ({
    phase: "Running",
    podIP: "127.0.0.9",
    conditions: [{ type: "Ready", status: "True", lastTransitionTime: at }],
    containerStatuses: [{ restartCount: 0 }],
  });

  it("counts ready leaders, loading, crash-looping and unschedulable replicas, and the load time", () => {
    const c = census([
      pod("a", ready("2026-12-04T10:12:00Z")),
      pod("b", ready("2026-12-04T10:20:00Z"), { "leaderworkerset.sigs.k8s.io/worker-index": "0" }),
      pod("b-1", ready("2026-12-04T10:20:00Z"), { "leaderworkerset.sigs.k8s.io/worker-index": "1" }),
      pod("c", { phase: "Running", conditions: [{ type: "Ready", status: "False" }] }),
      pod("d", {
        phase: "Running",
        containerStatuses: [{ restartCount: 4, state: { waiting: { reason: "CrashLoopBackOff" } } }],
      }),
      pod("e", { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }] }),
    ]);
    expect(c.ready.map((p) => p.metadata.name)).toEqual(["a", "b"]);
    expect(c).toMatchObject({ loading: 1, crashLooping: 1, waitingForGpus: 1, loadTimeSeconds: 1200 });
  });
});
