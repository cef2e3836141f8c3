/**
 * Orders strings by UTF-16 code unit, the same on every machine. `localeCompare` orders by the
 * process's locale (so the order could differ between machines) and builds ICU's collator at its first
 * call, which every short-lived weights Job would pay.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
