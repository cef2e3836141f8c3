// Does the live object already carry everything we would apply? The apiserver adds defaults and
// status, so "equal" is too strict; "every field we set has the value we set" is the test that
// lets a steady state make zero writes while a hand edit of one of our fields is still seen.
export function isSubset(desired: unknown, observed: unknown): boolean {
  if (desired === observed) return true;
  if (desired === null || desired === undefined) return observed === null || observed === undefined;
  if (typeof desired === "number" || typeof desired === "string") {
    // Quantities and int-or-strings may come back in the other representation ("8" vs 8).
    return (typeof observed === "number" || typeof observed === "string") && String(desired) === String(observed);
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed) || observed.length !== desired.length) return false;
    return desired.every((d, i) => isSubset(d, observed[i]));
  }
  if (typeof desired === "object") {
    if (typeof observed !== "object" || observed === null || Array.isArray(observed)) return false;
    const o = observed as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => isSubset(v, o[k]));
  }
  return false;
}
