import { describe, expect, it } from "@jest/globals";
import { OperatorMetrics } from "./metrics.ts";
import { ItemExponentialFailureRateLimiter } from "./ratelimiter.ts";
import { FakeClock } from "./testing.ts";
import { WorkQueue } from "./workqueue.ts";

function newQueue(clock = new FakeClock(), metrics?: OperatorMetrics): WorkQueue {
  return new WorkQueue({ name: "test", clock, metrics, rateLimiter: new ItemExponentialFailureRateLimiter(5, 1000) });
}

async function metricValue(
  m: OperatorMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = await m.registry.getSingleMetric(name)?.get();
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value;
}

describe("WorkQueue: dirty/processing semantics", () => {
  it("collapses a burst of adds of one key into one item, keeping first-add order", async () => {
    const q = newQueue();
    for (const k of ["a", "b", "a", "a", "c", "b"]) q.add(k);
    expect(q.len()).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(["a", "b", "c"]);
  });

  it("re-queues a key added while processing only after done()", async () => {
    const q = newQueue();
    q.add("a");
    const k = await q.get();
    q.add("a");
    q.add("a");
    expect(q.len()).toBe(0); // not handed out twice while in flight
    q.done(k!);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe("a");
    q.done("a");
    expect(q.len()).toBe(0);
  });

  it("hands a key to a waiting get() as soon as it is added", async () => {
    const q = newQueue();
    const pending = q.get();
    q.add("x");
    expect(await pending).toBe("x");
    expect(q.inFlight()).toEqual(["x"]);
  });

  it("never gives one key to two concurrent consumers (N workers, random adds)", async () => {
    const q = newQueue();
    const keys = ["a", "b", "c", "d"];
    const active = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const workers = Array.from({ length: 6 }, async () => {
      for (;;) {
        const k = await q.get();
        if (k === undefined) return;
        if (active.has(k)) overlaps++;
        active.add(k);
        // Re-add the key itself and others mid-flight, yielding so other workers interleave.
        q.add(k);
        q.add(keys[(processed * 7) % keys.length]!);
        await Promise.resolve();
        await new Promise((r) => setImmediate(r));
        active.delete(k);
        processed++;
        q.done(k);
        if (processed >= 200) q.shutDown();
      }
    });
    for (const k of keys) q.add(k);
    await Promise.all(workers);
    expect(processed).toBeGreaterThanOrEqual(200);
    expect(overlaps).toBe(0);
  });
});

describe("WorkQueue: delays and rate limiting", () => {
  it("addAfter makes the key ready only after the delay; the earliest delay wins", async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    q.addAfter("a", 1000);
    q.addAfter("a", 300);
    q.addAfter("a", 5000); // later than the pending one: ignored
    await clock.advance(299);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe("a");
    q.done("a");
    await clock.advance(10_000);
    expect(q.len()).toBe(0); // the 1000 ms and 5000 ms entries were folded into the first
  });

  it("orders delayed keys by ready time", async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    q.addAfter("late", 200);
    q.addAfter("early", 100);
    q.addAfter("now", 0);
    expect(await q.get()).toBe("now");
    await clock.advance(200);
    expect([await q.get(), await q.get()]).toEqual(["early", "late"]);
  });

  it("addRateLimited backs off exponentially per key; forget resets", async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    const readyAfter: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = clock.now();
      q.addRateLimited("a");
      while (q.len() === 0) await clock.advance(1);
      readyAfter.push(clock.now() - t0);
      const k = await q.get();
      q.done(k!);
    }
    expect(readyAfter).toEqual([5, 10, 20, 40]);
    expect(q.numRequeues("a")).toBe(4);
    q.forget("a");
    expect(q.numRequeues("a")).toBe(0);
  });
});

describe("WorkQueue: shutdown", () => {
  it("wakes waiting consumers with undefined, ignores later adds and drains in-flight keys", async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    q.add("busy");
    const busy = await q.get();
    const waiting = q.get();
    q.addAfter("delayed", 100);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add("z");
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
    let drained = false;
    const drain = q.drain().then(() => (drained = true));
    await clock.advance(1000);
    expect(drained).toBe(false);
    q.done(busy!);
    await drain;
    expect(drained).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe("WorkQueue: metrics", () => {
  it("reports depth, adds, retries, queue and work durations with {name, controller}", async () => {
    const clock = new FakeClock();
    const m = new OperatorMetrics({ processMetrics: false });
    const q = newQueue(clock, m);
    const l = { name: "test", controller: "test" };
    q.add("a");
    q.add("a");
    q.add("b");
    expect(await metricValue(m, "workqueue_depth", l)).toBe(2);
    expect(await metricValue(m, "workqueue_adds_total", l)).toBe(2);
    await clock.advance(2000);
    const k = await q.get();
    expect(await metricValue(m, "workqueue_depth", l)).toBe(1);
    await clock.advance(3000);
    expect(await metricValue(m, "workqueue_unfinished_work_seconds", l)).toBe(3);
    expect(await metricValue(m, "workqueue_longest_running_processor_seconds", l)).toBe(3);
    q.done(k!);
    q.addRateLimited("c");
    expect(await metricValue(m, "workqueue_retries_total", l)).toBe(1);
    const text = await m.scrape();
    expect(text).toMatch(/workqueue_queue_duration_seconds_sum\{name="test",controller="test"\} 2\b/);
    expect(text).toMatch(/workqueue_work_duration_seconds_sum\{name="test",controller="test"\} 3\b/);
    expect(text).toMatch(/workqueue_work_duration_seconds_bucket\{le="1000",name="test",controller="test"\} 1/);
  });
});
