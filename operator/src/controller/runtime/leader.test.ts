import { describe, expect, it } from "@jest/globals";
import type { Clock } from "./clock.ts";
import { LeaderElector, type LeaderCallbacks } from "./leader.ts";
import { LeadershipLostError, type WriteFence } from "./fence.ts";
import { MemoryLeaseLock, MemoryLeaseStore } from "./leaselock.ts";
import { OperatorMetrics } from "./metrics.ts";
import { FakeClock } from "./testing.ts";

interface Candidate {
  id: string;
  elector: LeaderElector;
  stop: AbortController;
  done: Promise<void>;
  log: string[];
  leaderSignal: AbortSignal | undefined;
  fence: WriteFence | undefined;
  metrics: OperatorMetrics;
}

function candidate(
  store: MemoryLeaseStore,
  clock: Clock,
  id: string,
  opts: { releaseOnCancel?: boolean; onStarted?: (s: AbortSignal) => Promise<void>; random?: () => number } = {},
): Candidate {
  const log: string[] = [];
  const c: Partial<Candidate> = {
    id,
    log,
    stop: new AbortController(),
    metrics: new OperatorMetrics({ processMetrics: false }),
  };
  const callbacks: LeaderCallbacks = {
    onStartedLeading: (signal, fence) => {
      log.push(`started@${clock.now()}`);
      c.leaderSignal = signal;
      c.fence = fence;
      return opts.onStarted?.(signal);
    },
    onStoppedLeading: (end) => void log.push(`stopped@${clock.now()}${end === "stopped" ? "" : `:${end}`}`),
    onNewLeader: (who) => void log.push(`leader=${who}`),
  };
  c.elector = new LeaderElector({
    lock: new MemoryLeaseLock(store, id),
    name: "dsd-operator",
    callbacks,
    clock,
    metrics: c.metrics,
    releaseOnCancel: opts.releaseOnCancel,
    random: opts.random ?? (() => 0),
  });
  c.done = c.elector.run(c.stop!.signal);
  return c as Candidate;
}

async function masterStatus(c: Candidate): Promise<number | undefined> {
  return (await c.metrics.registry.getSingleMetric("leader_election_master_status")!.get()).values[0]?.value;
}

describe("LeaderElector (client-go tryAcquireOrRenew port)", () => {
  it("creates the lease, leads, and renews every retryPeriod keeping acquireTime", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.log).toEqual(["leader=a", `started@${clock.now()}`]);
    expect(await masterStatus(a)).toBe(1);
    const acquired = store.lease!.record.acquireTime;
    await clock.advance(10_000);
    // create, an immediate first renewal (client-go's renew loop starts with one), then every 2 s.
    expect(store.writes.length).toBe(7);
    expect(store.lease!.record).toMatchObject({
      holderIdentity: "a",
      acquireTime: acquired,
      renewTime: clock.now(),
      leaderTransitions: 0,
      leaseDurationSeconds: 15,
    });
    a.stop.abort();
    await a.done;
    await expect(a.elector.run(new AbortController().signal)).rejects.toThrow(/only once/);
  });

  it("a follower waits for the lease to expire by its own observation, then takes over counting a transition", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, "a", { releaseOnCancel: false });
    await clock.advance(0);
    const b = candidate(store, clock, "b");
    await clock.advance(5_000);
    expect(b.elector.isLeader()).toBe(false);
    expect(b.log).toEqual(["leader=a"]);
    expect(b.elector.getLeader()).toBe("a");

    // "a" dies without releasing: its last renewal is the last change "b" observes.
    a.stop.abort();
    await a.done;
    const lastRenew = store.lease!.record.renewTime;
    await clock.advance(14_000);
    expect(b.elector.isLeader()).toBe(false);
    await clock.advance(4_000); // observedTime + 15 s passed, plus up to one retry period
    expect(b.elector.isLeader()).toBe(true);
    const takeover = Number(b.log.find((l) => l.startsWith("started@"))!.split("@")[1]);
    expect(takeover - lastRenew).toBeGreaterThan(15_000);
    expect(takeover - lastRenew).toBeLessThanOrEqual(17_000);
    expect(store.lease!.record).toMatchObject({ holderIdentity: "b", leaderTransitions: 1, acquireTime: takeover });
    expect(b.log).toEqual(["leader=a", "leader=b", `started@${takeover}`]);
    b.stop.abort();
    await b.done;
  });

  it("a follower with the worst jitter still takes over within lease duration + one retry period of the last renewal", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, "a", { releaseOnCancel: false });
    await clock.advance(0);
    const b = candidate(store, clock, "b", { random: () => 0.999 });
    await clock.advance(7_300);
    a.stop.abort(); // dies between two renewals, without releasing
    await a.done;
    const lastRenew = store.lease!.record.renewTime;
    await clock.advance(30_000);
    const takeover = Number(b.log.find((l) => l.startsWith("started@"))!.split("@")[1]);
    expect(takeover - lastRenew).toBeGreaterThan(15_000);
    expect(takeover - lastRenew).toBeLessThanOrEqual(17_001);
    b.stop.abort();
    await b.done;
  });

  it("ignores the holder's clock: a leader whose clock is an hour behind keeps the lease while it renews", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    // "a" stamps renewTime an hour in the past; only its timers share the real (fake) time line.
    const skewed: Clock = {
      now: () => clock.now() - 3_600_000,
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
      sleep: (ms, signal) => clock.sleep(ms, signal),
    };
    const a = candidate(store, skewed, "a");
    await clock.advance(0);
    const b = candidate(store, clock, "b");
    await clock.advance(60_000);
    expect(store.lease!.record.renewTime).toBeLessThan(clock.now() - 3_000_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    for (const x of [a, b]) x.stop.abort();
    await clock.advance(1_000);
    await Promise.all([a.done, b.done]);
  });

  it("releases on graceful stop after the leader's work has finished, so the follower takes over at once", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    let workStopped = false;
    const a = candidate(store, clock, "a", {
      onStarted: async (signal) => {
        await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
        await clock.sleep(3_000); // controllers draining
        workStopped = true;
      },
    });
    await clock.advance(0);
    const b = candidate(store, clock, "b");
    await clock.advance(1_000);
    a.stop.abort();
    await clock.advance(2_999);
    expect(store.lease!.record.holderIdentity).toBe("a"); // not released while work is still running
    await clock.advance(1);
    await a.done;
    expect(workStopped).toBe(true);
    const release = store.writes.findIndex((w) => w.identity === "a" && w.record.holderIdentity === "");
    expect(release).toBeGreaterThan(0);
    expect(store.writes[release]!.record.leaseDurationSeconds).toBe(1);
    expect(a.log.at(-1)).toMatch(/^stopped@/);
    const releasedAt = clock.now();
    await clock.advance(2_000); // one retry period, far less than the 15 s lease
    expect(b.elector.isLeader()).toBe(true);
    const started = Number(b.log.find((l) => l.startsWith("started@"))!.split("@")[1]);
    expect(started - releasedAt).toBeLessThanOrEqual(2_000);
    expect(store.lease!.record.leaderTransitions).toBe(1);
    b.stop.abort();
    await b.done;
  });

  it("loses leadership when it cannot renew within renewDeadline (API failing), without releasing", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(4_000);
    const writesBefore = store.writes.length;
    store.mode = "fail";
    await clock.advance(9_000);
    expect(a.elector.isLeader()).toBe(true);
    await clock.advance(4_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.leaderSignal!.aborted).toBe(true);
    expect(await masterStatus(a)).toBe(0);
    await a.done;
    expect(a.log.at(-1)).toMatch(/^stopped@/);
    expect(store.writes.length).toBe(writesBefore);
  });

  it("a leader whose work fails to start gives up the lease at once, so a follower takes over", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, "a", {
      releaseOnCancel: false, // released anyway: the work is over
      onStarted: async () => {
        await clock.sleep(3_000);
        throw new Error("timed out waiting for the pods cache to sync");
      },
    });
    const failed = a.done.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    await clock.advance(0);
    const b = candidate(store, clock, "b");
    await clock.advance(3_000);
    const err = await failed;
    expect(err?.message).toMatch(/leader's work failed: timed out waiting for the pods cache/);
    expect(a.elector.isLeader()).toBe(false);
    expect(await masterStatus(a)).toBe(0);
    expect(a.log.at(-1)).toBe(`stopped@${clock.now()}:failed`);
    expect(store.lease!.record.holderIdentity).toBe("");
    await clock.advance(2_000); // one retry period, not the 15 s lease
    expect(b.elector.isLeader()).toBe(true);
    b.stop.abort();
    await b.done;
  });

  it("fences writes: open while renewing, closed at once after a loss", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(30_000);
    expect(() => a.fence!.check()).not.toThrow();
    expect(a.fence!.signal.aborted).toBe(false);
    store.mode = "fail";
    await clock.advance(13_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(() => a.fence!.check()).toThrow(LeadershipLostError);
    expect(a.fence!.signal.aborted).toBe(true);
    await a.done;
  });

  it("keeps the fence open while the work drains on a graceful stop, within the renew deadline", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const checks: string[] = [];
    const a = candidate(store, clock, "a", {
      onStarted: async (signal) => {
        await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
        for (const ms of [3_000, 15_000]) {
          await clock.sleep(ms); // a reconcile in flight finishing its writes
          try {
            a.fence!.check();
            checks.push("open");
          } catch {
            checks.push("closed");
          }
        }
      },
    });
    await clock.advance(1_000);
    a.stop.abort();
    await clock.advance(20_000);
    await a.done;
    // Open 3 s into the drain; closed once the last renewal is older than the 10 s renew deadline.
    expect(checks).toEqual(["open", "closed"]);
    expect(a.fence!.signal.aborted).toBe(true);
  });

  it("a paused leader's fence closes on resume before its timers run, and it gives up without releasing", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    // The process is frozen for 20 s: its clock moves, none of its timers fire.
    let paused = 0;
    const frozen: Clock = {
      now: () => clock.now() + paused,
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
      sleep: (ms, signal) => clock.sleep(ms, signal),
    };
    const a = candidate(store, frozen, "a");
    await clock.advance(5_000);
    const writes = store.writes.length;
    paused = 20_000;
    // The first thing that runs on resume is a reconcile's next write: it must not go out.
    expect(() => a.fence!.check()).toThrow(/last renewed \d+ ms ago/);
    expect(a.fence!.signal.aborted).toBe(true);
    await clock.advance(0);
    await a.done;
    expect(a.log.at(-1)).toMatch(/:lost$/);
    expect(store.writes.length).toBe(writes); // no renewal, no release: a successor may hold the lease by now
  });

  it("a hung API call counts as a failed renewal (bounded by the renew deadline)", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, "a");
    await clock.advance(2_000);
    store.mode = "hang";
    await clock.advance(14_000);
    expect(a.elector.isLeader()).toBe(false);
    await a.done;
  });

  it("two followers racing for an expired lease: exactly one wins, the other's write conflicts", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock, ms: 50 }); // calls overlap like real requests
    const a = candidate(store, clock, "a", { releaseOnCancel: false });
    await clock.advance(0);
    const b = candidate(store, clock, "b");
    const c = candidate(store, clock, "c");
    await clock.advance(2_000);
    a.stop.abort();
    await a.done;
    await clock.advance(30_000);
    const leaders = [b, c].filter((x) => x.elector.isLeader());
    expect(leaders).toHaveLength(1);
    expect(store.lease!.record.leaderTransitions).toBe(1);
    // Both saw the same expired record and wrote with the same resourceVersion: one write was rejected.
    expect(store.conflicts).toBeGreaterThanOrEqual(1);
    expect(new Set(store.writes.filter((w) => w.record.leaderTransitions === 1).map((w) => w.identity)).size).toBe(1);
    for (const x of [b, c]) x.stop.abort();
    const stopped = Promise.all([b.done, c.done]);
    await clock.advance(1_000); // the winner's release takes two 50 ms calls
    await stopped;
    expect(store.lease!.record.holderIdentity).toBe("");
  });

  it("a MemoryLeaseLock update with a stale resourceVersion is a 409", async () => {
    const store = new MemoryLeaseStore();
    const x = new MemoryLeaseLock(store, "x");
    const y = new MemoryLeaseLock(store, "y");
    const s = new AbortController().signal;
    const rec = { holderIdentity: "x", leaseDurationSeconds: 15, acquireTime: 1, renewTime: 1, leaderTransitions: 0 };
    await x.create(rec, s);
    await x.get(s);
    await y.get(s);
    await x.update({ ...rec, renewTime: 2 }, s);
    await expect(y.update({ ...rec, holderIdentity: "y" }, s)).rejects.toMatchObject({ code: 409 });
  });

  it("rejects unsafe timing like client-go", () => {
    const lock = new MemoryLeaseLock(new MemoryLeaseStore(), "a");
    const callbacks = { onStartedLeading: () => undefined, onStoppedLeading: () => undefined };
    expect(
      () => new LeaderElector({ lock, name: "x", callbacks, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }),
    ).toThrow(/leaseDuration/);
    expect(
      () => new LeaderElector({ lock, name: "x", callbacks, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }),
    ).toThrow(/retryPeriod/);
    expect(
      () => new LeaderElector({ lock: new MemoryLeaseLock(new MemoryLeaseStore(), ""), name: "x", callbacks }),
    ).toThrow(/identity/);
  });
});
