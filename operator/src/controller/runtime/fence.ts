// A write fence: what stops a leader's work from writing once it may no longer be the leader.
//
// Losing the lease is noticed by the renew loop, which runs on timers. A process that was paused (SIGSTOP, a
// long GC, a frozen VM) resumes with every timer due at once, and a reconcile's next write could go out before
// the renew loop has run and found the lease gone. So every write checks the fence synchronously before it is
// sent: the fence fails once leadership has ended or the last successful renewal is older than the renew
// deadline, by the local clock (which a pause does advance). Its signal aborts requests already in flight.

/** Thrown by a fenced write that may not be sent: this process is not (or no longer provably) the leader. */
export class LeadershipLostError extends Error {
  override readonly name = "LeadershipLostError";
}

export interface WriteFence {
  /** Aborted when leadership ends; pass it to every request so in-flight writes are cancelled. */
  readonly signal: AbortSignal;
  /** Throws LeadershipLostError when no write may start now. */
  check(): void;
}
