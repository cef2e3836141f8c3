// vLLM's Prometheus surface, as `PrometheusStatLogger` in vllm/v1/metrics/loggers.py (@005a810b)
// defines it: labels `model_name` and `engine` (the DP rank as a string), one series per engine
// created up front (make_per_engine), counters exposed with `_total`, the same bucket boundaries.
// Only the metrics an autoscaler or a dashboard of this operator reads are simulated.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EngineConfig } from "./config.ts";
import type { EngineCore, FinishReason } from "./scheduler.ts";

const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
  640.0, 2560.0,
];
const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
  7680.0,
];
const FINISH_REASONS: FinishReason[] = ["stop", "length", "abort"];

type L = "model_name" | "engine";

export function vllmRegistry(core: EngineCore, cfg: EngineConfig): Registry {
  const registry = new Registry();
  const model = cfg.servedModelNames[0]!;
  const engines = Array.from({ length: cfg.dataParallel }, (_, i) => String(i));
  const labels = (rank: number) => ({ model_name: model, engine: String(rank) });
  const labelNames = ["model_name", "engine"] as const;

  const liveGauge = (name: string, help: string, pick: (s: ReturnType<EngineCore["snapshot"]>[number]) => number) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        for (const s of core.snapshot()) this.set(labels(s.rank), pick(s));
      },
    });
  liveGauge("vllm:num_requests_running", "Number of requests in model execution batches.", (s) => s.running);
  liveGauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", (s) => s.waiting);
  liveGauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", (s) => s.kvUsage);

  const counter = (name: string, help: string) => {
    const c = new Counter<L>({ name, help, labelNames, registers: [registry] });
    for (const e of engines) c.inc({ model_name: model, engine: e }, 0);
    return c;
  };
  const preemptions = counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.");
  const promptTokens = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.");
  const generationTokens = counter("vllm:generation_tokens_total", "Number of generation tokens processed.");
  const success = new Counter<L | "finished_reason">({
    name: "vllm:request_success_total",
    help: "Count of successfully processed requests.",
    labelNames: [...labelNames, "finished_reason"],
    registers: [registry],
  });
  for (const e of engines)
    for (const r of FINISH_REASONS) success.inc({ model_name: model, engine: e, finished_reason: r }, 0);

  const histogram = (name: string, help: string, buckets: number[]) => {
    const h = new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
    for (const e of engines) h.zero({ model_name: model, engine: e });
    return h;
  };
  const ttft = histogram(
    "vllm:time_to_first_token_seconds",
    "Histogram of time to first token in seconds.",
    TTFT_BUCKETS,
  );
  const e2e = histogram(
    "vllm:e2e_request_latency_seconds",
    "Histogram of e2e request latency in seconds.",
    REQUEST_LATENCY_BUCKETS,
  );
  const queue = histogram(
    "vllm:request_queue_time_seconds",
    "Histogram of time spent in WAITING phase for request.",
    REQUEST_LATENCY_BUCKETS,
  );

  core.observe({
    preempted: (rank) => preemptions.inc(labels(rank)),
    promptProcessed: (rank, n, internal) => {
      if (!internal) promptTokens.inc(labels(rank), n);
    },
    tokensGenerated: (rank, n, internal) => {
      if (!internal) generationTokens.inc(labels(rank), n);
    },
    firstToken: (rank, t, internal) => {
      if (!internal) ttft.observe(labels(rank), t);
    },
    finished: (rank, info) => {
      if (info.internal) return;
      success.inc({ ...labels(rank), finished_reason: info.reason });
      e2e.observe(labels(rank), info.e2eSeconds);
      queue.observe(labels(rank), info.queueSeconds);
    },
  });
  return registry;
}
