// PromQL for the four signals of one deployment: used by the builtin loop's Prometheus source and by
// the KEDA trigger the operator renders, so both read the same thing.
type EngineKind = "vllm" | "sglang";

export interface PrometheusQueries {
  queueDepth?: string | undefined;
  runningRequests?: string | undefined;
  tokensPerSecond?: string | undefined;
  kvCacheUsage?: string | undefined;
}

/** Label matchers of one deployment's engine pods, as Prometheus' Kubernetes service discovery labels them. */
function matchers(namespace: string, name: string): string {
  return `namespace="${namespace}",pod=~"${name}-.*"`;
}

function defaultQueries(engine: EngineKind, namespace: string, name: string): Required<PrometheusQueries> {
  const m = matchers(namespace, name);
  return engine === "sglang"
    ? {
        queueDepth: `sum(sglang:num_queue_reqs{${m}})`,
        runningRequests: `sum(sglang:num_running_reqs{${m}})`,
        tokensPerSecond: `sum(sglang:gen_throughput{${m}})`,
        kvCacheUsage: `max(sglang:token_usage{${m}})`,
      }
    : {
        queueDepth: `sum(vllm:num_requests_waiting{${m}})`,
        runningRequests: `sum(vllm:num_requests_running{${m}})`,
        tokensPerSecond: `sum(rate(vllm:generation_tokens_total{${m}}[1m]))`,
        kvCacheUsage: `max(vllm:kv_cache_usage_perc{${m}})`,
      };
}

/** The queries in force: the user's, with $namespace and $name filled in, else the defaults. */
export function queriesFor(
  engine: EngineKind,
  namespace: string,
  name: string,
  custom: PrometheusQueries | undefined,
): Required<PrometheusQueries> {
  const d = defaultQueries(engine, namespace, name);
  const fill = (q: string | undefined, dflt: string) =>
    q ? q.replaceAll("$namespace", namespace).replaceAll("$name", name) : dflt;
  return {
    queueDepth: fill(custom?.queueDepth, d.queueDepth),
    runningRequests: fill(custom?.runningRequests, d.runningRequests),
    tokensPerSecond: fill(custom?.tokensPerSecond, d.tokensPerSecond),
    kvCacheUsage: fill(custom?.kvCacheUsage, d.kvCacheUsage),
  };
}
