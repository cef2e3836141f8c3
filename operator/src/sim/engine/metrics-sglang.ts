// SGLang's Prometheus surface, after python/sglang/srt/metrics/collector.py (@00ae9c15):
//   * SchedulerMetricsCollector: one series per logging scheduler, labels model_name, engine_type,
//     tp_rank, pp_rank, moe_ep_rank and, with data parallelism, dp_rank (scheduler init: `if dp_rank
//     is not None: labels["dp_rank"] = dp_rank`);
//   * TokenizerMetricsCollector: one process, label model_name; its counters and histograms get a
//     series only when the first request finishes (prometheus_client creates labelled children on use).
// SGLang exposes all of it only with --enable-metrics.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EngineConfig } from "./config.ts";
import type { EngineCore, RankSnapshot } from "./scheduler.ts";

const TTFT_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400];
const E2E_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400];
const QUEUE_BUCKETS = [
  0.0, 0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 600, 700, 800,
  900, 1000, 1200, 1400, 1600, 1800, 2000, 2500, 3000,
];

export interface StartupTimes {
  /** Seconds from process start to serving; undefined while starting. */
  startupSeconds(): number | undefined;
  loadWeightsSeconds(): number | undefined;
}

/** Label values of the scheduler that logs for DP rank `rank`. */
export function sglangSchedulerLabels(cfg: EngineConfig, rank: number): Record<string, string> {
  // With DP attention each DP rank is an attention-TP group of tp/dp GPUs whose first rank logs;
  // without it, each DP replica is a full TP group and its tp_rank 0 logs.
  const attnTp = cfg.dpAttention ? Math.max(1, Math.floor(cfg.tensorParallel / cfg.dataParallel)) : 0;
  const tpRank = rank * attnTp;
  const labels: Record<string, string> = {
    model_name: cfg.servedModelNames[0]!,
    engine_type: "unified",
    tp_rank: String(tpRank),
    pp_rank: "0",
    moe_ep_rank: String(cfg.expertParallel ? tpRank : 0),
  };
  if (cfg.dataParallel > 1) labels.dp_rank = String(rank);
  return labels;
}

export function sglangRegistry(core: EngineCore, cfg: EngineConfig, startup: StartupTimes): Registry {
  const registry = new Registry();
  const schedLabels = Array.from({ length: cfg.dataParallel }, (_, r) => sglangSchedulerLabels(cfg, r));
  const schedNames = Object.keys(schedLabels[0]!);
  const tok = { model_name: cfg.servedModelNames[0]! };

  const schedGauge = (name: string, help: string, pick: (s: RankSnapshot) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: schedNames,
      registers: [registry],
      collect() {
        for (const s of core.snapshot()) {
          const v = pick(s);
          if (v !== undefined) this.set(schedLabels[s.rank]!, v);
        }
      },
    });
  schedGauge("sglang:num_running_reqs", "The number of running requests.", (s) => s.running);
  schedGauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.", (s) => s.waiting);
  schedGauge("sglang:num_used_tokens", "The number of used tokens.", (s) => s.usedTokens);
  schedGauge("sglang:token_usage", "The token usage.", (s) => s.usedTokens / (s.totalBlocks * cfg.blockSize));
  schedGauge("sglang:gen_throughput", "The generation throughput (token/s).", (s) => s.genThroughput);
  schedGauge(
    "sglang:max_total_num_tokens",
    "Maximum total number of tokens in the KV cache pool.",
    (s) => s.totalBlocks * cfg.blockSize,
  );
  schedGauge("sglang:cache_hit_rate", "The prefix cache hit rate.", () => 0);
  schedGauge("sglang:engine_startup_time", "The time taken for the engine to start up.", () =>
    startup.startupSeconds(),
  );
  schedGauge("sglang:engine_load_weights_time", "The time taken for the engine to load weights.", () =>
    startup.loadWeightsSeconds(),
  );
  const queueTime = new Histogram({
    name: "sglang:queue_time_seconds",
    help: "Histogram of queueing time in seconds.",
    labelNames: schedNames,
    buckets: QUEUE_BUCKETS,
    registers: [registry],
  });

  const tokNames = ["model_name"];
  const promptTokens = new Counter({
    name: "sglang:prompt_tokens_total",
    help: "Number of prefill tokens processed.",
    labelNames: tokNames,
    registers: [registry],
  });
  const generationTokens = new Counter({
    name: "sglang:generation_tokens_total",
    help: "Number of generation tokens processed.",
    labelNames: tokNames,
    registers: [registry],
  });
  const requests = new Counter({
    name: "sglang:num_requests_total",
    help: "Number of requests processed.",
    labelNames: tokNames,
    registers: [registry],
  });
  const aborted = new Counter({
    name: "sglang:num_aborted_requests_total",
    help: "Number of requests aborted.",
    labelNames: tokNames,
    registers: [registry],
  });
  const ttft = new Histogram({
    name: "sglang:time_to_first_token_seconds",
    help: "Histogram of time to first token in seconds.",
    labelNames: tokNames,
    buckets: TTFT_BUCKETS,
    registers: [registry],
  });
  const e2e = new Histogram({
    name: "sglang:e2e_request_latency_seconds",
    help: "Histogram of End-to-end request latency in seconds",
    labelNames: tokNames,
    buckets: E2E_BUCKETS,
    registers: [registry],
  });

  core.observe({
    scheduled: (rank, q, internal) => {
      if (!internal) queueTime.observe(schedLabels[rank]!, q);
    },
    firstToken: (_rank, t, internal) => {
      if (!internal) ttft.observe(tok, t);
    },
    // The tokenizer manager counts tokens when a request completes, not per step.
    finished: (_rank, info) => {
      if (info.internal) return;
      promptTokens.inc(tok, info.promptTokens);
      generationTokens.inc(tok, info.generated);
      requests.inc(tok);
      if (info.reason === "abort") aborted.inc(tok);
      e2e.observe(tok, info.e2eSeconds);
    },
  });
  return registry;
}
