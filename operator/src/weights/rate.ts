// Transfer rate over a moving window, and the ETA it implies. Pure: samples carry their own time.

export class RateEstimator {
  private readonly windowMs: number;
  private samples: { t: number; bytes: number }[] = [];

  constructor(windowMs = 30_000) {
    this.windowMs = windowMs;
  }

  /** Records the cumulative number of bytes transferred at time `t` (ms). */
  add(t: number, cumulativeBytes: number): void {
    this.samples.push({ t, bytes: cumulativeBytes });
    // Keep one sample at or before the window start so the window is always fully covered.
    while (this.samples.length > 2 && this.samples[1]!.t <= t - this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window; 0 until two samples span some time. */
  bytesPerSecond(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const dt = last.t - first.t;
    if (dt <= 0) return 0;
    return Math.max(0, ((last.bytes - first.bytes) * 1000) / dt);
  }
}

/** Seconds left at `bytesPerSecond`; 0 when nothing is left, null when the rate is unknown. */
export function etaSeconds(bytesLeft: number, bytesPerSecond: number): number | null {
  if (bytesLeft <= 0) return 0;
  if (bytesPerSecond <= 0) return null;
  return bytesLeft / bytesPerSecond;
}
