// HPA's stabilization windows: scale up only to the lowest recommendation of the up-window (every
// recent recommendation agreed on at least that much) and down only to the highest of the down-window
// (none of them asked for more).
import type { Recommendation } from "./types.ts";

export interface Stabilized {
  /** Lowest recommendation of the up-window. */
  upTo: number;
  /** Highest recommendation of the down-window. */
  downTo: number;
}

export function stabilize(
  recs: readonly Recommendation[],
  now: number,
  upSeconds: number,
  downSeconds: number,
): Stabilized {
  let upTo = Infinity;
  let downTo = -Infinity;
  for (const r of recs) {
    const age = now - r.at;
    if (age < 0) continue;
    // The current recommendation (age 0) is inside every window, including a zero-length one.
    if (age <= upSeconds * 1000) upTo = Math.min(upTo, r.replicas);
    if (age <= downSeconds * 1000) downTo = Math.max(downTo, r.replicas);
  }
  return { upTo, downTo };
}

/** Keeps what a window of `keepSeconds` can still read. */
export function pruneRecommendations(
  recs: readonly Recommendation[],
  now: number,
  keepSeconds: number,
): Recommendation[] {
  return recs.filter((r) => now - r.at <= keepSeconds * 1000 && r.at <= now);
}
