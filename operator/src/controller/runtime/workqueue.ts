// client-go's rate-limiting delaying work queue (util/workqueue: queue.go, delaying_queue.go,
// rate_limiting_queue.go) for string keys ("namespace/name").
//
// Three structures carry the guarantees:
//   queue      — keys ready to be handed out, in order;
//   dirty      — keys that need processing (queued, or re-added while being processed);
//   processing — keys handed out and not yet done().
// add() of a dirty key is a no-op, so a burst of events collapses into one reconcile; a key added while it is
// being processed is only re-queued by done(), so the same key is never reconciled by two workers at once.
import type { Clock, TimerHandle } from "./clock.ts";
import { realClock } from "./clock.ts";
import type { OperatorMetrics, QueueGaugeSource } from "./metrics.ts";
import { defaultControllerRateLimiter, type RateLimiter } from "./ratelimiter.ts";

export interface WorkQueueOptions {
  /** Used as both `name` and `controller` label, as controller-runtime does. */
  name: string;
  clock?: Clock;
  /** Defaults to controller-runtime's max(exponential 5 ms → 1000 s, bucket 10 qps / burst 100). */
  rateLimiter?: RateLimiter;
  metrics?: OperatorMetrics;
}

export class WorkQueue implements QueueGaugeSource {
  readonly name: string;
  readonly #clock: Clock;
  readonly #limiter: RateLimiter;
  readonly #metrics: OperatorMetrics | undefined;
  readonly #labels: { name: string; controller: string };

  #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #getters: Array<(key: string | undefined) => void> = [];
  #shuttingDown = false;
  #drainWaiters: Array<() => void> = [];

  // Delayed adds: key → earliest time it becomes ready. One timer armed for the earliest entry; the map is
  // scanned when it fires, which is cheap at operator scale (one entry per object, not per event).
  readonly #waiting = new Map<string, number>();
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;

  // For queue/work duration histograms and the unfinished-work gauges.
  readonly #addedAt = new Map<string, number>();
  readonly #startedAt = new Map<string, number>();

  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.#clock = opts.clock ?? realClock;
    this.#limiter = opts.rateLimiter ?? defaultControllerRateLimiter(this.#clock);
    this.#metrics = opts.metrics;
    this.#labels = { name: opts.name, controller: opts.name };
    if (this.#metrics) {
      // Initialise the series so dashboards see zeros rather than gaps before the first event.
      this.#metrics.workqueueDepth.set(this.#labels, 0);
      this.#metrics.workqueueAdds.inc(this.#labels, 0);
      this.#metrics.workqueueRetries.inc(this.#labels, 0);
      this.#metrics.registerQueue(this);
    }
  }

  /** Mark `key` as needing processing. No-op if it already does, or after shutDown(). */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#metrics?.workqueueAdds.inc(this.#labels);
    this.#metrics?.workqueueDepth.inc(this.#labels);
    if (!this.#addedAt.has(key)) this.#addedAt.set(key, this.#clock.now());
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Add `key` after `ms`. If it is already waiting, the earlier ready time wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    // client-go counts every delayed add as a retry (delaying_queue.go), including RequeueAfter.
    this.#metrics?.workqueueRetries.inc(this.#labels);
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.#clock.now() + ms;
    const current = this.#waiting.get(key);
    if (current !== undefined && current <= readyAt) return;
    this.#waiting.set(key, readyAt);
    if (readyAt < this.#timerAt) this.#arm(readyAt);
  }

  /** Add `key` after the rate limiter's delay for it (one more failure recorded). */
  addRateLimited(key: string): void {
    this.addAfter(key, this.#limiter.when(key));
  }

  /** Reset `key`'s failure history (call after a successful reconcile). */
  forget(key: string): void {
    this.#limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.#limiter.numRequeues(key);
  }

  /**
   * Next key to process, waiting until one is ready; undefined once the queue is shut down. The caller owns the
   * key until it calls done(key).
   */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#startProcessing(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Finish processing `key`; if it was re-added meanwhile it goes back on the queue now. */
  done(key: string): void {
    if (!this.#processing.delete(key)) return;
    const started = this.#startedAt.get(key);
    this.#startedAt.delete(key);
    if (started !== undefined) {
      this.#metrics?.workqueueWorkDuration.observe(this.#labels, (this.#clock.now() - started) / 1000);
    }
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key);
    if (this.#processing.size === 0) this.#resolveDrain();
  }

  /** Keys ready to be handed out (not counting delayed or in-flight keys). */
  len(): number {
    return this.#queue.length;
  }

  /** Keys currently handed out and not yet done. */
  inFlight(): string[] {
    return [...this.#processing];
  }

  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stop handing out work: waiting get() calls resolve undefined, adds are ignored, queued and delayed keys are
   * dropped. Unlike client-go's ShutDown, queued keys are not drained first: the queue stops when leadership is
   * lost, and the next leader rebuilds the same keys from its own list. Keys in flight may still call done().
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#waiting.clear();
    for (const resolve of this.#getters.splice(0)) resolve(undefined);
    for (const key of this.#queue) {
      this.#dirty.delete(key);
      this.#addedAt.delete(key);
    }
    this.#queue = [];
    this.#metrics?.workqueueDepth.set(this.#labels, 0);
    if (this.#processing.size === 0) this.#resolveDrain();
  }

  /** Resolves once shut down and every in-flight key has been done()  (client-go ShutDownWithDrain). */
  drain(): Promise<void> {
    if (this.#shuttingDown && this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  unfinishedWorkSeconds(): number {
    const now = this.#clock.now();
    let total = 0;
    for (const t of this.#startedAt.values()) total += now - t;
    return total / 1000;
  }

  longestRunningProcessorSeconds(): number {
    const now = this.#clock.now();
    let oldest = now;
    for (const t of this.#startedAt.values()) oldest = Math.min(oldest, t);
    return (now - oldest) / 1000;
  }

  #push(key: string): void {
    const getter = this.#getters.shift();
    if (getter) {
      this.#startProcessing(key);
      getter(key);
    } else {
      this.#queue.push(key);
    }
  }

  #startProcessing(key: string): void {
    const now = this.#clock.now();
    this.#dirty.delete(key);
    this.#processing.add(key);
    this.#metrics?.workqueueDepth.dec(this.#labels);
    const added = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (added !== undefined) this.#metrics?.workqueueQueueDuration.observe(this.#labels, (now - added) / 1000);
    this.#startedAt.set(key, now);
  }

  #arm(at: number): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#fireWaiting(), at - this.#clock.now());
  }

  #fireWaiting(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    let next = Infinity;
    for (const [key, at] of this.#waiting) {
      if (at <= now) {
        this.#waiting.delete(key);
        this.add(key);
      } else {
        next = Math.min(next, at);
      }
    }
    if (next !== Infinity) this.#arm(next);
  }

  #resolveDrain(): void {
    if (!this.#shuttingDown) return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
    this.#metrics?.unregisterQueue(this);
  }
}
