// Load traces as per-second arrival cohorts: count, mean prompt and mean output tokens of each second.
// Synthetic shapes (spike, ramp, daily cycle, oscillation) and the real traces of ../shared/traces
// (their README has the attribution: Azure LLM inference traces, CC-BY 4.0, Patel et al., Splitwise,
// ISCA 2024; ServeGen m-large, Apache-2.0, Xiang et al. 2025). Counts are fluid (fractional).
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { replicaRequestRate } from "./capacity.ts";
import { seededRandom } from "../../operator/src/util/random.ts";

export interface Trace {
  name: string;
  /** One entry per second. */
  count: Float64Array;
  prompt: Float64Array;
  output: Float64Array;
}

/** Token lengths of the synthetic and rate-only traces: the means of the Azure conversation trace. */
export const CONV_PROMPT = 1155;
export const CONV_OUTPUT = 211;
/** Deterministic, so every run replays the same arrivals. */
export const rng = seededRandom;

/** Requests/s of one full replica at that mix; synthetic loads are written in these units. */
export const REPLICA_RATE = replicaRequestRate(CONV_PROMPT, CONV_OUTPUT);

/** Poisson draws: exact for small means, normal approximation above 50. */
function poisson(mean: number, rand: () => number): number {
  if (mean <= 0) return 0;
  if (mean > 50) {
    const u = Math.max(rand(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * z));
  }
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rand();
  } while (p > l);
  return k - 1;
}

/** A trace from a rate function in replicas' worth of load (1 = one full replica at the conv mix). */
export function fromRate(name: string, seconds: number, replicas: (t: number) => number, seed: number): Trace {
  const rand = rng(seed);
  const count = new Float64Array(seconds);
  for (let t = 0; t < seconds; t++) count[t] = poisson(Math.max(0, replicas(t)) * REPLICA_RATE, rand);
  return {
    name,
    count,
    prompt: new Float64Array(seconds).fill(CONV_PROMPT),
    output: new Float64Array(seconds).fill(CONV_OUTPUT),
  };
}

const H = 3600;

export function syntheticTraces(): Trace[] {
  return [
    // A quiet service hit twice: 30 min at 3x, later 10 min at 2.5x.
    fromRate("spike", 4 * H, (t) => (t >= H && t < 1.5 * H ? 9 : t >= 2.5 * H && t < 2.5 * H + 600 ? 7.5 : 3), 1),
    // Morning ramp: 2 → 10 replicas' worth over 90 min, an hour at the top, down over an hour.
    fromRate(
      "ramp",
      5 * H,
      (t) => {
        if (t < 0.5 * H) return 2;
        if (t < 2 * H) return 2 + (8 * (t - 0.5 * H)) / (1.5 * H);
        if (t < 3 * H) return 10;
        if (t < 4 * H) return 10 - (8 * (t - 3 * H)) / H;
        return 2;
      },
      2,
    ),
    // A day, trough at a quarter of the peak.
    fromRate("daily", 24 * H, (t) => 6.25 - 3.75 * Math.cos((2 * Math.PI * t) / (24 * H)), 3),
    // Load swinging every 20 minutes, faster than a replica loads.
    fromRate("oscillation", 4 * H, (t) => (Math.floor(t / 600) % 2 === 0 ? 3 : 6), 4),
  ];
}

/** Scales a trace so its busiest 10 minutes need `peakReplicas` full replicas. */
export function scaleToPeak(trace: Trace, peakReplicas: number): Trace {
  const n = trace.count.length;
  let best = 0;
  for (let w = 0; w < n; w += 600) {
    let c = 0;
    let p = 0;
    let o = 0;
    for (let t = w; t < Math.min(n, w + 600); t++) {
      c += trace.count[t]!;
      p += trace.count[t]! * trace.prompt[t]!;
      o += trace.count[t]! * trace.output[t]!;
    }
    if (c > 0) {
      const replicas = c / Math.min(600, n - w) / replicaRequestRate(p / c, o / c);
      best = Math.max(best, replicas);
    }
  }
  if (best === 0) return trace;
  const k = peakReplicas / best;
  return { ...trace, count: trace.count.map((c) => c * k) };
}

/** Reads a trace file: Azure CSV, a ServeGen-style rate CSV, or Mooncake-style JSON lines. */
export function readTrace(file: string, options: { maxHours?: number; seed?: number } = {}): Trace {
  const text = readFileSync(file, "utf8");
  const name = basename(file).replace(/\.(csv|jsonl?|txt)$/, "");
  const first = text.slice(0, text.indexOf("\n")).trim();
  if (/^TIMESTAMP,ContextTokens,GeneratedTokens/i.test(first))
    return fromRequests(name, azureRows(text), options.maxHours);
  if (/^window_start_s,aggregate_rate_rps/i.test(first)) return fromRateCsv(name, text, options);
  if (first.startsWith("{")) return fromRequests(name, jsonRows(text, file), options.maxHours);
  throw new Error(
    `${file}: unknown trace format (want Azure CSV, ServeGen rate CSV or JSON lines), ` +
      `first line ${JSON.stringify(first.slice(0, 80))}`,
  );
}

type Row = [seconds: number, prompt: number, output: number];

function azureRows(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split("\n").slice(1)) {
    if (!line.trim()) continue;
    const [ts, ctx, gen] = line.split(",");
    // "2023-11-16 18:15:46.6805900": UTC wall clock with 7 fractional digits.
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)?$/.exec(ts!.trim());
    if (!m) throw new Error(`Azure trace: bad TIMESTAMP ${JSON.stringify(ts)}`);
    const seconds = Date.parse(`${m[1]}T${m[2]}Z`) / 1000 + Number(m[3] ?? 0);
    rows.push([seconds, Number(ctx), Number(gen)]);
  }
  return rows;
}

function jsonRows(text: string, file: string): Row[] {
  const rows: Row[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const r = JSON.parse(line) as { timestamp?: unknown; input_length?: unknown; output_length?: unknown };
    if (typeof r.timestamp !== "number" || typeof r.input_length !== "number" || typeof r.output_length !== "number") {
      throw new Error(`${file}:${i + 1}: want numeric timestamp (ms), input_length, output_length`);
    }
    rows.push([r.timestamp / 1000, r.input_length, r.output_length]);
  });
  return rows;
}

function fromRequests(name: string, rows: Row[], maxHours?: number): Trace {
  if (rows.length === 0) throw new Error(`${name}: no requests`);
  rows.sort((a, b) => a[0] - b[0]);
  const t0 = rows[0]![0];
  let seconds = Math.ceil(rows[rows.length - 1]![0] - t0) + 1;
  if (maxHours !== undefined) seconds = Math.min(seconds, Math.round(maxHours * H));
  const count = new Float64Array(seconds);
  const prompt = new Float64Array(seconds);
  const output = new Float64Array(seconds);
  for (const [t, p, o] of rows) {
    const s = Math.floor(t - t0);
    if (s >= seconds) break;
    count[s]! += 1;
    prompt[s]! += Math.max(1, p);
    output[s]! += Math.max(1, o);
  }
  for (let s = 0; s < seconds; s++) {
    if (count[s]! > 0) {
      prompt[s]! /= count[s]!;
      output[s]! /= count[s]!;
    } else {
      prompt[s] = CONV_PROMPT;
      output[s] = CONV_OUTPUT;
    }
  }
  return { name, count, prompt, output };
}

/** Per-window rates: Poisson arrivals inside each window (seeded), the conv trace's mean lengths. */
function fromRateCsv(name: string, text: string, options: { maxHours?: number; seed?: number }): Trace {
  const windows: Array<[number, number]> = [];
  for (const line of text.split("\n").slice(1)) {
    if (!line.trim()) continue;
    const [start, rate] = line.split(",");
    windows.push([Number(start), Number(rate)]);
  }
  if (windows.length === 0) throw new Error(`${name}: no windows`);
  const width = windows.length > 1 ? windows[1]![0] - windows[0]![0] : 600;
  let seconds = windows.length * width;
  if (options.maxHours !== undefined) seconds = Math.min(seconds, Math.round(options.maxHours * H));
  const rand = rng(options.seed ?? 7);
  const count = new Float64Array(seconds);
  for (let s = 0; s < seconds; s++) count[s] = poisson(windows[Math.floor(s / width)]?.[1] ?? 0, rand);
  return {
    name,
    count,
    prompt: new Float64Array(seconds).fill(CONV_PROMPT),
    output: new Float64Array(seconds).fill(CONV_OUTPUT),
  };
}
