// Durations as kubectl prints them (12m, 1h5m, 2d3h): what a printer column shows where a bare number of
// seconds would make the reader do arithmetic.

/** Whole seconds as at most two units: 45s, 2m30s, 12m, 1h5m, 2d3h. Rounds up: an ETA never promises early. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}
