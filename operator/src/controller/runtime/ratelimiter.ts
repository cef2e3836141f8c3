// Ports of client-go's util/workqueue rate limiters. `when(key)` is called once per AddRateLimited and returns
// how long that retry must wait; `forget(key)` resets the per-item history after a success.
import type { Clock } from "./clock.ts";

export interface RateLimiter {
  /** Delay in ms before `key` may be processed again; records one more failure for it. */
  when(key: string): number;
  /** Stop tracking `key` (it succeeded); its next failure starts again from the base delay. */
  forget(key: string): void;
  /** How many times `key` has been rate-limited since the last forget. */
  numRequeues(key: string): number;
}

/**
 * client-go ItemExponentialFailureRateLimiter: delay = base · 2^failures, capped at max. With controller-runtime's
 * defaults (5 ms, 1000 s) a key that keeps failing waits 5 ms, 10 ms, 20 ms, … and reaches the cap after 18 failures.
 */
export class ItemExponentialFailureRateLimiter implements RateLimiter {
  readonly #failures = new Map<string, number>();
  readonly #baseMs: number;
  readonly #maxMs: number;

  constructor(baseMs = 5, maxMs = 1000_000) {
    if (!(baseMs > 0) || !(maxMs >= baseMs))
      throw new Error(`invalid exponential backoff: base ${baseMs} ms, max ${maxMs} ms`);
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  when(key: string): number {
    const exp = this.#failures.get(key) ?? 0;
    this.#failures.set(key, exp + 1);
    // 2 ** exp overflows to Infinity long before it matters; Math.min keeps the cap exact.
    return Math.min(this.#baseMs * 2 ** exp, this.#maxMs);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/**
 * client-go BucketRateLimiter (golang.org/x/time/rate semantics): a token bucket shared by all keys. Each call
 * reserves a token even when none is available; the returned delay is the time until that token exists, so a
 * burst of N failures beyond the bucket is spread out at `qps`.
 */
export class BucketRateLimiter implements RateLimiter {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(clock: Clock, qps = 10, burst = 100) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`invalid token bucket: ${qps} qps, burst ${burst}`);
    this.#clock = clock;
    this.#qps = qps;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  when(_key: string): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#qps) * 1000);
  }

  forget(_key: string): void {}

  numRequeues(_key: string): number {
    return 0;
  }
}

/** client-go MaxOfRateLimiter: the longest delay of all limiters wins; every limiter records every call. */
export class MaxOfRateLimiter implements RateLimiter {
  readonly #limiters: RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.#limiters = limiters;
  }

  when(key: string): number {
    let delay = 0;
    for (const l of this.#limiters) delay = Math.max(delay, l.when(key));
    return delay;
  }

  forget(key: string): void {
    for (const l of this.#limiters) l.forget(key);
  }

  numRequeues(key: string): number {
    let n = 0;
    for (const l of this.#limiters) n = Math.max(n, l.numRequeues(key));
    return n;
  }
}

export interface DefaultRateLimiterOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  qps?: number;
  burst?: number;
}

/**
 * controller-runtime's DefaultTypedControllerRateLimiter: max(per-item exponential 5 ms → 1000 s, global token
 * bucket 10 qps / burst 100). The bucket only matters when many keys fail at once (an API outage): it keeps the
 * retry storm at 10 requests/s instead of every key retrying on its own schedule.
 */
export function defaultControllerRateLimiter(clock: Clock, opts: DefaultRateLimiterOptions = {}): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialFailureRateLimiter(opts.baseDelayMs ?? 5, opts.maxDelayMs ?? 1000_000),
    new BucketRateLimiter(clock, opts.qps ?? 10, opts.burst ?? 100),
  );
}
