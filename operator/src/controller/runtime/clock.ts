// Every timer in the runtime goes through a Clock so that tests drive time explicitly (FakeClock in testing.ts)
// instead of sleeping: backoff, delayed requeues, watchdogs, lease expiry and event aggregation all become
// deterministic.

export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export class RealClock implements Clock {
  #timers = new Map<number, NodeJS.Timeout>();
  #next = 1;

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    const t = setTimeout(
      () => {
        this.#timers.delete(id);
        fn();
      },
      Math.max(0, ms),
    );
    // Timers never keep the process alive on their own: the HTTP servers and watch sockets do that in
    // production, and a stray backoff timer must not hold a test run or a CLI command open.
    t.unref();
    this.#timers.set(id, t);
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.#timers.get(handle.id);
    if (t) clearTimeout(t);
    this.#timers.delete(handle.id);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
}

/** A sleep built on any Clock's timers; shared by RealClock and FakeClock. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export const realClock: Clock = new RealClock();
