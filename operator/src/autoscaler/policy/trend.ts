// Least-squares line through recent samples: the slope says where a need is heading, R² says whether
// the samples follow a line at all (noise around a level has a slope too, but no fit).

export interface LineFit {
  /** Units per second. */
  slope: number;
  /** The line's value at the last sample's time. */
  last: number;
  r2: number;
}

/** Points are [ms since the epoch, value]; undefined with fewer than 3 points or no time spread. */
export function fitLine(points: ReadonlyArray<readonly [number, number]>): LineFit | undefined {
  const n = points.length;
  if (n < 3) return undefined;
  const t0 = points[0]![0];
  let sx = 0;
  let sy = 0;
  for (const [t, y] of points) {
    sx += (t - t0) / 1000;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [t, y] of points) {
    const dx = (t - t0) / 1000 - mx;
    const dy = y - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx <= 0) return undefined;
  const slope = sxy / sxx;
  const lastX = (points[n - 1]![0] - t0) / 1000;
  // A flat series is a perfect fit of a zero slope.
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, last: my + slope * (lastX - mx), r2 };
}
