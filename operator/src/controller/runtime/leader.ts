// Lease-based leader election: a port of client-go tools/leaderelection (leaderelection.go).
//
// The one idea that makes it safe without synchronised clocks: a candidate never compares the lease's renewTime
// with its own clock. It remembers when *it* last saw the record change (observedTime, local clock) and considers
// the lease expired only when the record has not changed for leaseDuration of local time. Writes are optimistic
// (PUT with the resourceVersion last read), so two candidates racing for an expired lease cannot both win.
import { rootLogger, type Logger } from "../../util/log.ts";
import { realClock, type Clock } from "./clock.ts";
import { OperatorMetrics } from "./metrics.ts";
import { asError } from "../../util/errors.ts";
import { LeadershipLostError, type WriteFence } from "./fence.ts";

/** client-go resourcelock.LeaderElectionRecord; times are ms since the epoch. */
export interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number;
  renewTime: number;
  leaderTransitions: number;
}

/** client-go resourcelock.Interface for one lease. Implementations: KubeLeaseLock, MemoryLeaseLock. */
export interface LeaseLock {
  readonly identity: string;
  describe(): string;
  /** The current record and a raw serialisation used to detect change; undefined if the lease does not exist. */
  get(signal: AbortSignal): Promise<{ record: LeaderElectionRecord; raw: string } | undefined>;
  create(record: LeaderElectionRecord, signal: AbortSignal): Promise<void>;
  /** Replace the record, failing (409) if the lease changed since this lock last read or wrote it. */
  update(record: LeaderElectionRecord, signal: AbortSignal): Promise<void>;
}

/** Why leadership ended: the lease was lost, run()'s signal stopped it, or the leader's work failed. */
export type LeadershipEnd = "lost" | "stopped" | "failed";

export interface LeaderCallbacks {
  /**
   * Became leader: start the controllers. `signal` aborts when leadership ends; every write of the work must go
   * through `fence` (see fence.ts). On a graceful stop the elector waits for the returned promise before
   * releasing the lease, so resolve it only once the work has stopped. A rejection means the leader cannot work
   * (a cache that never syncs, a discovery error): the elector stops renewing, releases the lease so another
   * candidate takes over at once, and run() rejects with the error, as controller-runtime's manager returns it.
   * Reject only once the work has stopped.
   */
  onStartedLeading(signal: AbortSignal, fence: WriteFence): void | Promise<void>;
  /** Leadership ended. After a loss or a failure, exit the process as controller-runtime does. */
  onStoppedLeading(end: LeadershipEnd): void;
  /** The observed holder changed (including to "" after a release). */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectorOptions {
  lock: LeaseLock;
  /** Lease name, the `name` label of leader_election_master_status. */
  name: string;
  callbacks: LeaderCallbacks;
  /** Defaults are controller-runtime's: 15 s / 10 s / 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Release the lease when run()'s signal aborts (controller-runtime LeaderElectionReleaseOnCancel). Default true. */
  releaseOnCancel?: boolean;
  clock?: Clock;
  log?: Logger;
  metrics?: OperatorMetrics;
  /** [0,1) source for retry jitter; injectable for tests. */
  random?: () => number;
}

/** client-go's JitterFactor for the acquire loop. */
const JITTER_FACTOR = 1.2;

class Timeout extends Error {
  override readonly name = "Timeout";
}

export class LeaderElector {
  readonly #lock: LeaseLock;
  readonly #name: string;
  readonly #cb: LeaderCallbacks;
  readonly #leaseMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #release: boolean;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: OperatorMetrics;
  readonly #random: () => number;

  #observed: LeaderElectionRecord | undefined;
  #observedRaw: string | undefined;
  #observedTime = 0;
  #reportedLeader: string | undefined;
  #leading = false;
  #ran = false;
  /** Local time at which the last successful acquire or renew was sent. */
  #renewedAt = 0;

  constructor(opts: LeaderElectorOptions) {
    this.#lock = opts.lock;
    this.#name = opts.name;
    this.#cb = opts.callbacks;
    this.#leaseMs = opts.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.#retryMs = opts.retryPeriodMs ?? 2_000;
    this.#release = opts.releaseOnCancel ?? true;
    this.#clock = opts.clock ?? realClock;
    this.#log = (opts.log ?? rootLogger).child({ lease: opts.lock.describe(), identity: opts.lock.identity });
    this.#metrics = opts.metrics ?? new OperatorMetrics({ processMetrics: false });
    this.#random = opts.random ?? Math.random;
    // client-go NewLeaderElector's sanity checks.
    if (!opts.lock.identity) throw new Error("leader election: identity must not be empty");
    if (!(this.#leaseMs > this.#renewDeadlineMs))
      throw new Error("leader election: leaseDuration must be greater than renewDeadline");
    if (!(this.#renewDeadlineMs > JITTER_FACTOR * this.#retryMs))
      throw new Error("leader election: renewDeadline must be greater than retryPeriod*1.2");
    if (!(this.#retryMs > 0)) throw new Error("leader election: retryPeriod must be positive");
    this.#metrics.leaderMasterStatus.set({ name: this.#name }, 0);
  }

  /** Whether this candidate currently leads (between onStartedLeading and onStoppedLeading). */
  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder of the lease as last observed ("" if released, undefined before the first read). */
  getLeader(): string | undefined {
    return this.#observed?.holderIdentity;
  }

  /**
   * Campaign until leader, lead until the lease is lost or `signal` aborts, then return. A lost lease is not
   * released (someone else may hold it already); a graceful stop releases it when releaseOnCancel is set.
   */
  async run(signal: AbortSignal): Promise<void> {
    // Observed state (record, observedTime) belongs to one campaign; a second run would share and corrupt it.
    if (this.#ran) throw new Error("LeaderElector.run may be called only once; create a new elector");
    this.#ran = true;
    if (!(await this.#acquire(signal))) return;
    this.#leading = true;
    this.#metrics.leaderMasterStatus.set({ name: this.#name }, 1);
    this.#log.info("became leader");
    const leading = new AbortController();
    // Aborted when the leader must stop renewing on its own account: its work failed, or its fence found the
    // last renewal overdue.
    const giveUp = new AbortController();
    let failure: { err: unknown } | undefined;
    // Closed at once on a loss; on a graceful stop only once the work has drained (still bounded by the renewal
    // age, since renewals stop with the stop).
    const closed = new AbortController();
    const fence = this.#fence(closed, leading, giveUp);
    const work = Promise.resolve()
      .then(() => this.#cb.onStartedLeading(leading.signal, fence))
      .then(
        () => undefined,
        (err: unknown) => {
          failure = { err };
          this.#log.error({ err }, "the leader's work failed; giving up the lease");
          giveUp.abort(err);
        },
      );

    const renewedToTheEnd = await this.#renew(AbortSignal.any([signal, giveUp.signal]));
    const end: LeadershipEnd = failure ? "failed" : !renewedToTheEnd || giveUp.signal.aborted ? "lost" : "stopped";
    this.#leading = false;
    this.#metrics.leaderMasterStatus.set({ name: this.#name }, 0);
    const ended = new LeadershipLostError(`leader election ${end}`);
    if (end !== "stopped") closed.abort(ended);
    leading.abort(ended);
    if (end === "lost") {
      this.#log.error(
        { renewDeadlineMs: this.#renewDeadlineMs },
        "leader election lost: could not renew the lease before the renew deadline",
      );
    } else {
      await work; // the leader's work must stop before another candidate can take over
      closed.abort(ended);
      // A leader whose work failed hands the lease back whatever releaseOnCancel says: holding it would keep
      // every other candidate from doing the work for a lease duration.
      if (this.#release || end === "failed") await this.#releaseLease();
    }
    this.#cb.onStoppedLeading(end);
    if (failure) throw new Error(`the leader's work failed: ${errorMessage(failure.err)}`, { cause: failure.err });
  }

  /** The fence of one term of leadership (see fence.ts). */
  #fence(closed: AbortController, leading: AbortController, giveUp: AbortController): WriteFence {
    return {
      signal: closed.signal,
      check: () => {
        if (closed.signal.aborted) throw new LeadershipLostError("not the leader: leadership has ended");
        const age = this.#clock.now() - this.#renewedAt;
        if (age <= this.#renewDeadlineMs) return;
        const err = new LeadershipLostError(
          `not the leader: the lease was last renewed ${age} ms ago, past the ${this.#renewDeadlineMs} ms renew deadline`,
        );
        this.#log.error({ err }, "write fenced off; giving up leadership");
        closed.abort(err);
        leading.abort(err);
        giveUp.abort(err);
        throw err;
      },
    };
  }

  /**
   * client-go acquire(), with other waits: client-go retries every retryPeriod·(1 + rand·1.2), so a follower
   * may see the holder's last renewal up to 2.2 retry periods late and try again as late after the lease
   * expired: a takeover up to lease + 4.4 retry periods after the holder died. Here a follower polls every
   * retryPeriod·(1 − rand·0.5) (still spread, never slower than one retry period) and wakes when the lease it
   * observed expires, so it takes over within lease duration + one retry period of the holder's last renewal.
   */
  async #acquire(signal: AbortSignal): Promise<boolean> {
    this.#log.info("attempting to acquire leader lease");
    while (!signal.aborted) {
      const ok = await this.#tryAcquireOrRenew(signal, this.#clock.now() + this.#renewDeadlineMs);
      this.#maybeReportTransition();
      if (ok) return true;
      const poll = this.#retryMs * (1 - this.#random() * 0.5);
      const expiresIn = this.#observed
        ? this.#observedTime + this.#observed.leaseDurationSeconds * 1000 + 1 - this.#clock.now()
        : poll;
      await this.#clock.sleep(Math.max(1, Math.min(poll, expiresIn)), signal);
    }
    return false;
  }

  /**
   * client-go renew(): every retryPeriod, renew within a renewDeadline window (retrying every retryPeriod inside
   * it). Returns true when stopped by `signal`, false when a window passed without a successful renewal.
   */
  async #renew(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      const windowEnd = this.#clock.now() + this.#renewDeadlineMs;
      let renewed = false;
      while (!signal.aborted) {
        if (windowEnd <= this.#clock.now()) break;
        renewed = await this.#tryAcquireOrRenew(signal, windowEnd);
        this.#maybeReportTransition();
        if (renewed || signal.aborted) break;
        const wait = Math.min(this.#retryMs, windowEnd - this.#clock.now());
        if (wait <= 0) break;
        await this.#clock.sleep(wait, signal);
      }
      if (signal.aborted) return true;
      if (!renewed) return false;
      await this.#clock.sleep(this.#retryMs, signal);
      if (signal.aborted) return true;
    }
  }

  /** client-go tryAcquireOrRenew. All API calls of this attempt must finish before `deadlineAt`. */
  async #tryAcquireOrRenew(signal: AbortSignal, deadlineAt: number): Promise<boolean> {
    const now = this.#clock.now();
    const me = this.#lock.identity;
    const desired: LeaderElectionRecord = {
      holderIdentity: me,
      leaseDurationSeconds: Math.floor(this.#leaseMs / 1000),
      renewTime: now,
      acquireTime: now,
      leaderTransitions: 0,
    };
    const call = <T>(fn: (s: AbortSignal) => Promise<T>): Promise<T> =>
      this.#bounded(fn, signal, deadlineAt - this.#clock.now());

    // 1. Fast path: the leader updates optimistically from what it observed last, without a GET.
    if (this.#observedIsMe() && this.#leaseValid(now) && this.#observed) {
      const rec = {
        ...desired,
        acquireTime: this.#observed.acquireTime,
        leaderTransitions: this.#observed.leaderTransitions,
      };
      try {
        await call((s) => this.#lock.update(rec, s));
        this.#setObserved(rec, undefined);
        this.#renewedAt = now;
        return true;
      } catch (err) {
        this.#log.warn({ err }, "failed to update lease optimistically, falling back to slow path");
      }
    }

    // 2. Obtain or create the record.
    let current: Awaited<ReturnType<LeaseLock["get"]>>;
    try {
      current = await call((s) => this.#lock.get(s));
    } catch (err) {
      this.#log.warn({ err }, "error retrieving lease");
      return false;
    }
    if (!current) {
      try {
        await call((s) => this.#lock.create(desired, s));
      } catch (err) {
        this.#log.warn({ err }, "error initially creating lease");
        return false;
      }
      this.#setObserved(desired, undefined);
      this.#renewedAt = now;
      return true;
    }

    // 3. Record obtained: note the local time whenever it changed, then decide.
    if (current.raw !== this.#observedRaw) this.#setObserved(current.record, current.raw);
    const old = current.record;
    const expired = this.#observedTime + old.leaseDurationSeconds * 1000 < now;
    if (old.holderIdentity !== "" && !expired && !this.#observedIsMe()) {
      this.#log.debug({ holder: old.holderIdentity }, "lease is held by another candidate and has not expired");
      return false;
    }

    // 4. Update: keep acquireTime/transitions when renewing, count a transition when taking over.
    const rec = this.#observedIsMe()
      ? { ...desired, acquireTime: old.acquireTime, leaderTransitions: old.leaderTransitions }
      : { ...desired, leaderTransitions: old.leaderTransitions + 1 };
    try {
      await call((s) => this.#lock.update(rec, s));
    } catch (err) {
      this.#log.warn({ err }, "failed to update lease");
      return false;
    }
    this.#setObserved(rec, undefined);
    this.#renewedAt = now;
    return true;
  }

  /** client-go release(): hand the lease back so a successor need not wait for it to expire. */
  async #releaseLease(): Promise<void> {
    const never = new AbortController().signal;
    try {
      const current = await this.#bounded((s) => this.#lock.get(s), never, this.#renewDeadlineMs);
      if (!current || current.record.holderIdentity !== this.#lock.identity) return;
      const rec: LeaderElectionRecord = {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        renewTime: this.#clock.now(),
        acquireTime: this.#clock.now(),
        leaderTransitions: current.record.leaderTransitions,
      };
      await this.#bounded((s) => this.#lock.update(rec, s), never, this.#renewDeadlineMs);
      this.#setObserved(rec, undefined);
      this.#log.info("released leader lease");
    } catch (err) {
      this.#log.warn({ err }, "failed to release leader lease; the next leader waits for it to expire");
    }
  }

  #observedIsMe(): boolean {
    return this.#observed?.holderIdentity === this.#lock.identity;
  }

  #leaseValid(now: number): boolean {
    return !!this.#observed && this.#observedTime + this.#observed.leaseDurationSeconds * 1000 > now;
  }

  #setObserved(rec: LeaderElectionRecord, raw: string | undefined): void {
    this.#observed = rec;
    this.#observedRaw = raw;
    this.#observedTime = this.#clock.now();
  }

  #maybeReportTransition(): void {
    const holder = this.#observed?.holderIdentity;
    if (holder === undefined || holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    if (holder) this.#log.info({ leader: holder }, "new leader observed");
    try {
      this.#cb.onNewLeader?.(holder);
    } catch (err) {
      this.#log.error({ err }, "onNewLeader failed");
    }
  }

  /** Run one lock call with its own abort signal, failing it after `ms` or when `outer` aborts. */
  async #bounded<T>(fn: (s: AbortSignal) => Promise<T>, outer: AbortSignal, ms: number): Promise<T> {
    if (ms <= 0) throw new Timeout("no time left before the deadline");
    const ac = new AbortController();
    const onOuter = (): void => ac.abort(outer.reason);
    outer.addEventListener("abort", onOuter, { once: true });
    let timer: ReturnType<Clock["setTimeout"]> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => {
        const err = new Timeout(`lease call timed out after ${ms} ms`);
        ac.abort(err);
        reject(err);
      }, ms);
      ac.signal.addEventListener("abort", () => reject(asError(ac.signal.reason ?? new Timeout("aborted"))), {
        once: true,
      });
    });
    const call = fn(ac.signal);
    // If the deadline wins, the abandoned call may still reject later; that must not become an unhandled rejection.
    call.catch(() => undefined);
    try {
      return await Promise.race([call, deadline]);
    } finally {
      this.#clock.clearTimeout(timer);
      outer.removeEventListener("abort", onOuter);
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
