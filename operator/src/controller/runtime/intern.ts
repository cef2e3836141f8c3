// One instance of each string the caches hold many times over. JSON.parse makes a new string for every
// value: a DeepSeekDeployment's status repeats its plan's explanation (about 2 KB) in three fields, the
// same text for every deployment with the same plan, and every cached object repeats its namespace,
// labels, kind and apiVersion (docs/controller-runtime.md has the heap snapshot). Strings compare by value
// in JS, so sharing one instance changes nothing a reader can see.

/** Strings shorter than this cost little more than a table entry. */
const MIN_LENGTH = 8;
/** Bounded: unique strings (uids, timestamps, names) would otherwise accumulate. */
const MAX_ENTRIES = 8192;

const table = new Map<string, string>();

function canonical(s: string): string {
  const known = table.get(s);
  if (known !== undefined) return known;
  // A full table starts over: objects interned so far keep sharing what they share.
  if (table.size >= MAX_ENTRIES) table.clear();
  table.set(s, s);
  return s;
}

/** `v` itself, or its shared instance when it is a string of at least MIN_LENGTH; objects are interned in place. */
function interned(v: unknown): unknown {
  if (typeof v === "string") return v.length >= MIN_LENGTH ? canonical(v) : v;
  if (v !== null && typeof v === "object") internStrings(v);
  return v;
}

/**
 * Replaces, in place, every string of at least MIN_LENGTH characters in `value` (keys aside: V8 shares those) with
 * its shared instance.
 */
export function internStrings(value: unknown): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = interned(value[i]);
  } else if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = interned(o[k]);
  }
}

/** Entries in the table (for tests). */
export function internedCount(): number {
  return table.size;
}
