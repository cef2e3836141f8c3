// The loop's pure helpers: what it remembers across a failover, when it writes status, what status
// shows; and the interim policy's guarantees the loop relies on (no scale-down on unknown load).
import { describe, expect, it } from "@jest/globals";
import { parseSpec } from "../api/index.ts";
import { compactRecommendations, interimPolicy } from "./interim-policy.ts";
import { liveMetrics, restoreState, worthWriting } from "./loop.ts";
import type { PolicyInput } from "./policy-contract.ts";
import { census, type EnginePod } from "./replicas.ts";

const cfg = (a: Record<string, unknown> = {}) => {
  const p = parseSpec({
    model: { revision: "60d8d70770c6776ff598c94bb586a859a38244f1" },
    autoscaling: { mode: "Builtin", minReplicas: 1, maxReplicas: 8, ...a },
  });
  if (!p.ok) throw new Error(p.errors.map((e) => e.message).join("; "));
  return p.value.autoscaling;
};

const input = (over: Partial<PolicyInput> = {}): PolicyInput => ({
  config: cfg({ scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: 60 }),
  currentReplicas: 2,
  readyReplicas: 2,
  loadingReplicas: 0,
  crashLoopingReplicas: 0,
  waitingForGpus: 0,
  pods: [
    { uid: "a", name: "a", state: "fresh", waiting: 0, running: 1, tokensPerSecond: 10 },
    { uid: "b", name: "b", state: "fresh", waiting: 0, running: 0, tokensPerSecond: 0 },
  ],
  source: "Pods",
  ...over,
});

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
  it("restores the recommendations and the last scale time from status", () => {
    const s = restoreState({
      lastScaleTime: "2026-12-04T10:00:00Z",
      autoscaling: {
        recommendations: [
          { time: "2026-12-04T10:00:00Z", replicas: 3 },
          { time: "2026-12-04T10:00:15Z", replicas: 2 },
        ],
      },
    });
    expect(s).toEqual({
      lastScaleAtMs: Date.parse("2026-12-04T10:00:00Z"),
      recommendations: [
        { atMs: Date.parse("2026-12-04T10:00:00Z"), replicas: 3 },
        { atMs: Date.parse("2026-12-04T10:00:15Z"), replicas: 2 },
      ],
    });
    expect(restoreState(undefined)).toEqual({ recommendations: [] });
  });

  it("keeps only the recommendations that can still decide a window, so status stays small", () => {
    const recs = [5, 3, 4, 4, 2, 6, 3].map((replicas, i) => ({ atMs: i * 1000, replicas }));
    const kept = compactRecommendations(recs, 6000, 10_000);
    const window = (ms: number, f: (...v: number[]) => number) =>
      f(...kept.filter((r) => 6000 - r.atMs <= ms).map((r) => r.replicas));
    for (const ms of [0, 1000, 2500, 4000, 6000])
      for (const f of [Math.max, Math.min])
        expect(window(ms, f)).toBe(f(...recs.filter((r) => 6000 - r.atMs <= ms).map((r) => r.replicas)));
    expect(kept.length).toBeLessThan(recs.length);
    expect(compactRecommendations(recs, 20_000, 10_000)).toEqual([]);
  });
});

describe("interim policy", () => {
  it("never scales down while a replica's metrics are stale or missing", () => {
    const idle = input({ currentReplicas: 3, readyReplicas: 3 });
    const stale = {
      ...idle,
      pods: [...idle.pods, { uid: "c", name: "c", state: "stale" as const, waiting: 0, running: 0 }],
    };
    let state = { recommendations: [] as { atMs: number; replicas: number }[] };
    for (let t = 0; t <= 600_000; t += 15_000) {
      const out = interimPolicy(stale, state, t);
      expect(out.desired).toBe(3);
      state = out.state;
    }
    const missing = { ...idle, pods: [...idle.pods, { uid: "c", name: "c", state: "missing" as const }] };
    expect(interimPolicy(missing, { recommendations: [] }, 10_000_000).desired).toBe(3);
  });

  it("scales up on the queue and down only after the window", () => {
    const busy = input({
      pods: [
        { uid: "a", name: "a", state: "fresh", waiting: 10, running: 4 },
        { uid: "b", name: "b", state: "fresh", waiting: 10, running: 4 },
      ],
    });
    const up = interimPolicy(busy, { recommendations: [] }, 0);
    expect(up.desired).toBe(5);
    const idle = input({ currentReplicas: 5, readyReplicas: 5 });
    const early = interimPolicy(idle, up.state, 30_000);
    expect(early.desired).toBe(5);
    expect(early.reason).toMatch(/scale-down window/);
    const later = interimPolicy(idle, early.state, 61_000);
    expect(later.desired).toBe(4);
  });
});

describe("status", () => {
  const written = (queueDepth: number, desiredReplicas = 2) => ({
    metrics: { queueDepth, runningRequests: 1, tokensPerSecond: 100, replicasReporting: 2, replicasStale: 0 },
    autoscaling: { desiredReplicas, reason: "steady", recommendations: [] },
  });

  it("writes only what a reader would notice", () => {
    expect(worthWriting(undefined, written(0), 0)).toBe(true);
    expect(worthWriting(written(10), written(10.5), 20_000)).toBe(false);
    expect(worthWriting(written(10), written(12), 20_000)).toBe(true);
    expect(worthWriting(written(0), written(0, 3), 20_000)).toBe(true);
  });

  it("sums the fresh replicas and says how many were stale", () => {
    const m = liveMetrics(
      input({
        pods: [
          { uid: "a", name: "a", state: "fresh", waiting: 3, running: 2, tokensPerSecond: 50.04, kvCacheUsage: 0.2 },
          { uid: "b", name: "b", state: "stale", waiting: 100, running: 9 },
        ],
      }),
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
