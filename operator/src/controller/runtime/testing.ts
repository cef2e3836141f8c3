// Test helpers shipped with the runtime so the reconciler's tests use the same deterministic time as ours.
// Not exported from index.ts: production code never imports this file.
import { sleepOn, type Clock, type TimerHandle } from "./clock.ts";

interface PendingTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/** Let every queued microtask and already-due I/O callback run (one macrotask turn, no wall-clock wait). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A manually driven clock. `advance(ms)` fires due timers in time order and, between timers, lets promise
 * continuations run, so async code that schedules further timers inside the window behaves as with real time.
 */
export class FakeClock implements Clock {
  #now: number;
  #timers = new Map<number, PendingTimer>();
  #next = 1;
  #seq = 0;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), seq: this.#seq++, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.#timers.delete(handle.id);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Number of pending timers (lets a test assert that nothing is left scheduled). */
  pendingTimers(): number {
    return this.#timers.size;
  }

  /** Milliseconds until the earliest pending timer, or undefined when none. */
  nextTimerIn(): number | undefined {
    const next = this.#earliest();
    return next ? next.at - this.#now : undefined;
  }

  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > target) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#timers.values()) {
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/**
 * Poll `cond` while advancing `clock` in `stepMs` steps; for tests where real I/O (a loopback server) and fake
 * timers interleave. Throws after `maxSteps` so a broken expectation fails instead of hanging.
 */
export async function advanceUntil(
  clock: FakeClock,
  cond: () => boolean | Promise<boolean>,
  stepMs = 100,
  maxSteps = 500,
): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (await cond()) return;
    await clock.advance(stepMs);
    // Give loopback sockets a moment: real I/O completes on its own schedule, not the fake clock's.
    await new Promise((r) => setTimeout(r, 1));
  }
  if (!(await cond())) throw new Error(`condition not reached after ${maxSteps} steps of ${stepMs} ms`);
}
