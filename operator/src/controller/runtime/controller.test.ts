import { describe, expect, it } from "@jest/globals";
import { Controller, isPanic, splitKey, type ReconcileContext, type Result } from "./controller.ts";
import { TerminalError } from "./errors.ts";
import { OperatorMetrics } from "./metrics.ts";
import { ItemExponentialFailureRateLimiter } from "./ratelimiter.ts";
import { FakeClock, flushMicrotasks } from "./testing.ts";
import { WorkQueue } from "./workqueue.ts";

async function value(m: OperatorMetrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await m.registry.getSingleMetric(name)?.get();
  return metric?.values.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
}

interface Harness {
  clock: FakeClock;
  metrics: OperatorMetrics;
  queue: WorkQueue;
  controller: Controller;
  calls: Array<{ key: string; at: number; ctx: ReconcileContext }>;
}

function harness(reconcile: (key: string, ctx: ReconcileContext) => Promise<Result | void>, workers = 1): Harness {
  const clock = new FakeClock();
  const metrics = new OperatorMetrics({ processMetrics: false });
  const queue = new WorkQueue({
    name: "dsd",
    clock,
    metrics,
    rateLimiter: new ItemExponentialFailureRateLimiter(5, 60_000),
  });
  const calls: Harness["calls"] = [];
  const controller = new Controller({
    name: "dsd",
    queue,
    workers,
    clock,
    metrics,
    reconcile: (key, ctx) => {
      calls.push({ key, at: clock.now(), ctx });
      return reconcile(key, ctx);
    },
  });
  return { clock, metrics, queue, controller, calls };
}

describe("Controller result handling", () => {
  it("success forgets the key and counts result=success", async () => {
    const h = harness(async () => ({}));
    await h.controller.start();
    h.queue.add("ns/a");
    await h.clock.advance(0);
    expect(h.calls.map((c) => c.key)).toEqual(["ns/a"]);
    expect(await value(h.metrics, "controller_runtime_reconcile_total", { controller: "dsd", result: "success" })).toBe(
      1,
    );
    expect(await value(h.metrics, "controller_runtime_reconcile_total", { controller: "dsd", result: "error" })).toBe(
      0,
    );
    expect(h.queue.numRequeues("ns/a")).toBe(0);
    await h.controller.stop();
  });

  it("errors are retried with growing backoff, and success resets it", async () => {
    let failures = 3;
    const h = harness(async () => {
      if (failures-- > 0) throw new Error("apiserver unavailable");
      return {};
    });
    await h.controller.start();
    h.queue.add("ns/a");
    await h.clock.advance(1000);
    const times = h.calls.map((c) => c.at - h.calls[0]!.at);
    expect(times).toEqual([0, 5, 15, 35]); // 5, 10, 20 ms gaps
    expect(h.queue.numRequeues("ns/a")).toBe(0);
    expect(await value(h.metrics, "controller_runtime_reconcile_errors_total", { controller: "dsd" })).toBe(3);
    expect(await value(h.metrics, "controller_runtime_reconcile_total", { controller: "dsd", result: "error" })).toBe(
      3,
    );
    await h.controller.stop();
  });

  it("a TerminalError is counted and logged but not retried", async () => {
    const h = harness(async () => {
      throw new Error("wrapped", { cause: new TerminalError("unknown model") });
    });
    await h.controller.start();
    h.queue.add("ns/a");
    await h.clock.advance(60_000);
    expect(h.calls).toHaveLength(1);
    expect(await value(h.metrics, "controller_runtime_terminal_reconcile_errors_total", { controller: "dsd" })).toBe(1);
    expect(await value(h.metrics, "controller_runtime_reconcile_errors_total", { controller: "dsd" })).toBe(1);
    await h.controller.stop();
  });

  it("requeueAfterMs forgets the backoff and re-runs after the delay", async () => {
    let n = 0;
    const h = harness(async () => {
      n++;
      if (n === 1) throw new Error("transient");
      return n === 2 ? { requeueAfterMs: 30_000 } : {};
    });
    await h.controller.start();
    h.queue.add("ns/a");
    await h.clock.advance(5); // error, retried after 5 ms
    expect(h.calls).toHaveLength(2);
    expect(h.queue.numRequeues("ns/a")).toBe(0); // forgotten by the requeue_after result
    await h.clock.advance(29_999);
    expect(h.calls).toHaveLength(2);
    await h.clock.advance(1);
    expect(h.calls).toHaveLength(3);
    expect(
      await value(h.metrics, "controller_runtime_reconcile_total", { controller: "dsd", result: "requeue_after" }),
    ).toBe(1);
    await h.controller.stop();
  });

  it("counts programming errors as panics and still retries them", async () => {
    let n = 0;
    const h = harness(async () => {
      if (n++ === 0) {
        const o: { spec?: { replicas: number } } = {};
        return { requeueAfterMs: o.spec!.replicas };
      }
      return {};
    });
    await h.controller.start();
    h.queue.add("ns/a");
    await h.clock.advance(10);
    expect(h.calls).toHaveLength(2);
    expect(await value(h.metrics, "controller_runtime_reconcile_panics_total", { controller: "dsd" })).toBe(1);
    await h.controller.stop();
  });

  it("gives every reconcile a reconcileId and the parsed namespace/name", async () => {
    const h = harness(async () => ({}));
    await h.controller.start();
    h.queue.add("team-a/flash");
    h.queue.add("cluster-scoped");
    await h.clock.advance(0);
    await h.clock.advance(0);
    const [a, b] = h.calls;
    expect(a!.ctx.namespace).toBe("team-a");
    expect(a!.ctx.name).toBe("flash");
    expect(b!.ctx.namespace).toBeUndefined();
    expect(a!.ctx.reconcileId).toMatch(/^[0-9a-f]{8}$/);
    expect(a!.ctx.reconcileId).not.toBe(b!.ctx.reconcileId);
    await h.controller.stop();
  });
});

describe("Controller concurrency and shutdown", () => {
  it("runs different keys in parallel up to `workers` but never one key twice at once", async () => {
    const running = new Set<string>();
    let maxParallel = 0;
    let overlap = 0;
    const releases: Array<() => void> = [];
    const h = harness(async (key) => {
      if (running.has(key)) overlap++;
      running.add(key);
      maxParallel = Math.max(maxParallel, running.size);
      await new Promise<void>((r) => releases.push(r));
      running.delete(key);
      return {};
    }, 3);
    await h.controller.start();
    for (const k of ["a", "b", "c", "d", "a", "b"]) h.queue.add(k);
    await flushMicrotasks();
    expect(running.size).toBe(3);
    expect(await value(h.metrics, "controller_runtime_active_workers", { controller: "dsd" })).toBe(3);
    expect(await value(h.metrics, "controller_runtime_max_concurrent_reconciles", { controller: "dsd" })).toBe(3);
    h.queue.add("a"); // "a" is in flight: must wait for done
    for (let i = 0; i < 20 && (releases.length > 0 || h.queue.len() > 0); i++) {
      releases.splice(0).forEach((r) => r());
      await flushMicrotasks();
    }
    expect(overlap).toBe(0);
    expect(maxParallel).toBe(3);
    expect(h.calls.filter((c) => c.key === "a")).toHaveLength(2); // burst + in-flight add collapsed to one rerun
    await h.controller.stop();
  });

  it("stop() waits for in-flight reconciles and then stops taking work", async () => {
    let release!: () => void;
    const h = harness(async () => {
      await new Promise<void>((r) => (release = r));
      return {};
    });
    await h.controller.start();
    h.queue.add("a");
    await flushMicrotasks();
    let stopped: boolean | undefined;
    const stopping = h.controller.stop(10_000).then((ok) => (stopped = ok));
    h.queue.add("b");
    await flushMicrotasks();
    expect(stopped).toBeUndefined();
    release();
    await stopping;
    expect(stopped).toBe(true);
    expect(h.calls.map((c) => c.key)).toEqual(["a"]);
  });

  it("stop() gives up after the grace period and aborts the reconcile's signal", async () => {
    let aborted = false;
    const h = harness(async (_key, ctx) => {
      await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r()));
      aborted = true;
      return {};
    });
    await h.controller.start();
    h.queue.add("a");
    await flushMicrotasks();
    const stopping = h.controller.stop(5_000);
    await h.clock.advance(5_000);
    expect(await stopping).toBe(false);
    await flushMicrotasks();
    expect(aborted).toBe(true);
  });

  it("waits for its sources to sync before the first reconcile, and fails on sync timeout", async () => {
    const clock = new FakeClock();
    let synced = false;
    const calls: string[] = [];
    const c = new Controller({
      name: "x",
      clock,
      metrics: new OperatorMetrics({ processMetrics: false }),
      sources: [{ name: "pods", waitForSync: async () => synced }],
      reconcile: async (k) => {
        calls.push(k);
      },
    });
    await expect(c.start()).rejects.toThrow(/pods cache to sync/);
    synced = true;
    const c2 = new Controller({
      name: "y",
      clock,
      sources: [{ name: "pods", waitForSync: async () => synced }],
      reconcile: async (k) => void calls.push(k),
    });
    c2.queue.add("k");
    await c2.start();
    await clock.advance(0);
    expect(calls).toEqual(["k"]);
    await c2.stop();
  });

  it("aborts ctx.signal of a reconcile that exceeds reconcileTimeoutMs", async () => {
    const clock = new FakeClock();
    let reason: unknown;
    const c = new Controller({
      name: "t",
      clock,
      reconcileTimeoutMs: 1000,
      reconcile: async (_k, ctx) => {
        await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r()));
        reason = ctx.signal.reason;
      },
    });
    await c.start();
    c.queue.add("k");
    await clock.advance(999);
    expect(reason).toBeUndefined();
    await clock.advance(1);
    expect(String(reason)).toMatch(/exceeded 1000 ms/);
    await c.stop();
  });
});

describe("helpers", () => {
  it("splitKey and isPanic", () => {
    expect(splitKey("a/b")).toEqual({ namespace: "a", name: "b" });
    expect(splitKey("b")).toEqual({ namespace: undefined, name: "b" });
    expect(isPanic(new TypeError("x is undefined"))).toBe(true);
    expect(isPanic(new TypeError("fetch failed", { cause: new Error("ECONNREFUSED") }))).toBe(false);
    expect(isPanic("thrown string")).toBe(true);
    expect(isPanic(new Error("api said no"))).toBe(false);
  });
});
