// What the autoscaler reads from one engine (a replica's leader pod): the engine's Prometheus
// exposition turned into the four signals of the metrics contract (docs/autoscaling.md).
// Parsing is parse-prometheus-text-format's (prom2json's output shape); the sums are ours.
import parsePrometheusTextFormat from "parse-prometheus-text-format";

export type EngineKind = "vllm" | "sglang";

/** One reading of an engine's gauges and counters. */
export interface EngineReading {
  waiting: number;
  running: number;
  /** Generated tokens so far (a counter); undefined when the engine has none yet (SGLang before a request finishes). */
  generationTokensTotal?: number;
  /** Finished requests so far (vllm:request_success_total, sglang:num_requests_total); undefined while absent. */
  finishedTotal?: number;
  /** SGLang's own throughput gauge (tokens/s), summed over ranks. */
  genThroughput?: number;
  /** The fullest data-parallel rank's KV-cache usage, 0 to 1. */
  kvCacheUsage?: number;
}

const NAMES = {
  vllm: {
    waiting: "vllm:num_requests_waiting",
    running: "vllm:num_requests_running",
    tokens: "vllm:generation_tokens_total",
    finished: "vllm:request_success_total",
    kv: "vllm:kv_cache_usage_perc",
    throughput: undefined,
  },
  sglang: {
    waiting: "sglang:num_queue_reqs",
    running: "sglang:num_running_reqs",
    tokens: "sglang:generation_tokens_total",
    finished: "sglang:num_requests_total",
    kv: "sglang:token_usage",
    throughput: "sglang:gen_throughput",
  },
} as const;

export class MetricsError extends Error {
  override readonly name = "MetricsError";
}

/**
 * Each data-parallel rank reports its own series (label `engine`, or `dp_rank`): counts are summed
 * across them, KV usage is the fullest rank's. A family the engine must expose that is absent is an
 * error, never a zero: missing metrics must not look like an idle engine.
 */
export function readEngine(text: string, engine: EngineKind): EngineReading {
  let families;
  try {
    families = parsePrometheusTextFormat(text);
  } catch (err) {
    throw new MetricsError(`unparseable metrics: ${(err as Error).message}`, { cause: err });
  }
  const byName = new Map<string, number[]>();
  for (const f of families) {
    const values = f.metrics.map((m) => Number(m.value)).filter((v) => Number.isFinite(v));
    // prometheus_client writes a counter's TYPE line without _total and its samples with it; the
    // parser names the family after the samples, so both spellings land here.
    byName.set(f.name, [...(byName.get(f.name) ?? []), ...values]);
  }
  const n = NAMES[engine];
  const sum = (name: string) => byName.get(name)?.reduce((a, b) => a + b, 0);
  const max = (name: string) => {
    const v = byName.get(name);
    return v && v.length > 0 ? Math.max(...v) : undefined;
  };
  const waiting = sum(n.waiting);
  const running = sum(n.running);
  if (waiting === undefined || running === undefined) {
    const absent = [waiting === undefined ? n.waiting : undefined, running === undefined ? n.running : undefined]
      .filter(Boolean)
      .join(" and ");
    throw new MetricsError(
      `${absent} absent from /metrics${engine === "sglang" ? " (SGLang needs --enable-metrics)" : ""}`,
    );
  }
  const reading: EngineReading = { waiting, running };
  const tokens = sum(n.tokens);
  if (tokens !== undefined) reading.generationTokensTotal = tokens;
  const finished = sum(n.finished);
  if (finished !== undefined) reading.finishedTotal = finished;
  if (n.throughput) {
    const t = sum(n.throughput);
    if (t !== undefined) reading.genThroughput = t;
  }
  const kv = max(n.kv);
  if (kv !== undefined) reading.kvCacheUsage = Math.min(1, Math.max(0, kv));
  return reading;
}

/**
 * Tokens per second between two readings of the generation counter, as Prometheus' rate() counts
 * it: a counter that went down restarted from zero. undefined when there is no earlier reading.
 */
export function counterRate(
  prev: { value: number; atMs: number } | undefined,
  now: { value: number; atMs: number },
): number | undefined {
  if (!prev || now.atMs <= prev.atMs) return undefined;
  const delta = now.value >= prev.value ? now.value - prev.value : now.value;
  return delta / ((now.atMs - prev.atMs) / 1000);
}
