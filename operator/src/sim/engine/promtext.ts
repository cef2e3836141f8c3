// A strict parser for the Prometheus text exposition format (0.0.4), so tests read /metrics the way
// Prometheus does instead of matching substrings: HELP/TYPE lines, label escapes, +Inf/NaN, optional
// timestamps, histogram/summary samples grouped under their family.

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

export class PromParseError extends Error {
  constructor(line: number, message: string) {
    super(`prometheus text line ${line}: ${message}`);
    this.name = "PromParseError";
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(s: string, line: number): number {
  if (s === "+Inf" || s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s))
    throw new PromParseError(line, `bad value ${JSON.stringify(s)}`);
  return Number(s);
}

function parseLabels(s: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after "{"
  for (;;) {
    while (s[i] === " ") i++;
    if (s[i] === "}") return { labels, rest: s.slice(i + 1) };
    const m = LABEL.exec(s.slice(i));
    if (!m) throw new PromParseError(line, `bad label name at ${JSON.stringify(s.slice(i, i + 20))}`);
    const key = m[0];
    i += key.length;
    if (s[i] !== "=" || s[i + 1] !== '"') throw new PromParseError(line, `expected ="…" after label ${key}`);
    i += 2;
    let v = "";
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new PromParseError(line, `unterminated value of label ${key}`);
      if (c === '"') break;
      if (c === "\\") {
        const e = s[i + 1];
        if (e === "n") v += "\n";
        else if (e === "\\" || e === '"') v += e;
        else throw new PromParseError(line, `bad escape \\${e ?? ""} in label ${key}`);
        i += 2;
        continue;
      }
      v += c;
      i++;
    }
    i++;
    if (key in labels) throw new PromParseError(line, `duplicate label ${key}`);
    labels[key] = v;
    while (s[i] === " ") i++;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") throw new PromParseError(line, `expected , or } after label ${key}`);
  }
}

/** Family a sample belongs to: its own name, or the histogram/summary it is a part of. */
function familyOf(name: string, declared: Map<string, MetricFamily>): string {
  if (declared.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count", "_created"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const t = declared.get(base)?.type;
    if (t === "histogram" || (t === "summary" && suffix !== "_bucket")) return base;
  }
  return name;
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const get = (name: string) => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: "untyped", samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const lines = text.split("\n");
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    const line = raw.trimEnd();
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s*(HELP|TYPE)\s+(\S+)\s?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name!) || NAME.exec(name!)![0] !== name)
        throw new PromParseError(n, `bad metric name ${JSON.stringify(name)}`);
      const f = get(name);
      if (kind === "HELP") {
        f.help = rest!.replace(/\\(n|\\)/g, (_, e: string) => (e === "n" ? "\n" : "\\"));
      } else {
        const t = rest!.trim() as MetricType;
        if (!TYPES.has(t)) throw new PromParseError(n, `unknown type ${JSON.stringify(rest)}`);
        if (f.samples.length > 0) throw new PromParseError(n, `TYPE for ${name} after its samples`);
        f.type = t;
      }
      return;
    }
    const m = NAME.exec(line);
    if (!m) throw new PromParseError(n, `bad sample line ${JSON.stringify(line.slice(0, 60))}`);
    const name = m[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) ({ labels, rest } = parseLabels(rest, n));
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === "")
      throw new PromParseError(n, `expected value [timestamp] after ${name}`);
    const sample: Sample = { name, labels, value: parseValue(parts[0]!, n) };
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) throw new PromParseError(n, `bad timestamp ${JSON.stringify(parts[1])}`);
      sample.timestamp = Number(parts[1]);
    }
    get(familyOf(name, families)).samples.push(sample);
  });
  return families;
}

function matches(s: Sample, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => s.labels[k] === v);
}

/** Samples named exactly `name` whose labels include `labels`. */
export function samples(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values()) for (const s of f.samples) if (s.name === name && matches(s, labels)) out.push(s);
  return out;
}

/** The value of exactly one matching sample; throws when none or several match. */
export function value(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const found = samples(families, name, labels);
  if (found.length !== 1)
    throw new Error(`expected one ${name}${JSON.stringify(labels)} sample, found ${found.length}`);
  return found[0]!.value;
}

/** Sum over all matching samples (e.g. across the per-rank `engine` series); 0 when none. */
export function sum(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  return samples(families, name, labels).reduce((a, s) => a + s.value, 0);
}
