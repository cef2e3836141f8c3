// The optional metrics source: a Prometheus server that already scrapes the engines, read through
// its HTTP API (GET /api/v1/query, instant vectors). The default queries sum the engine metric over
// the deployment's pods; spec.autoscaling.metrics.prometheus.queries overrides any of them.
import type { PrometheusQueries } from "../render/promql.ts";
import type { Totals } from "./loop.ts";

interface QueryResponse {
  status: "success" | "error";
  error?: string;
  data?: {
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[] | [number, string];
  };
}

/** One instant query; undefined when the vector is empty (no series: not the same as zero). */
async function instantQuery(
  baseUrl: string,
  query: string,
  opts: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<number | undefined> {
  const url = new URL("api/v1/query", baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  url.searchParams.set("query", query);
  const res = await (opts.fetch ?? fetch)(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5_000) });
  const body = (await res.json().catch(() => undefined)) as QueryResponse | undefined;
  if (!res.ok || body?.status !== "success" || !body.data)
    throw new Error(`Prometheus query ${JSON.stringify(query)}: HTTP ${res.status} ${body?.error ?? ""}`.trim());
  const { resultType, result } = body.data;
  if (resultType === "scalar") return Number((result as [number, string])[1]);
  if (resultType !== "vector")
    throw new Error(`Prometheus query ${JSON.stringify(query)}: a ${resultType}, not a vector`);
  const vec = result as { value: [number, string] }[];
  if (vec.length === 0) return undefined;
  return vec.reduce((a, s) => a + Number(s.value[1]), 0);
}

/**
 * The four signals from Prometheus. Queue depth and running requests must be there (an empty answer
 * means nothing is scraped, which must not read as idle); tokens/s and KV usage may be absent.
 */
export async function readPrometheus(
  baseUrl: string,
  q: Required<PrometheusQueries>,
  opts: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<Totals> {
  const [queueDepth, runningRequests, tokensPerSecond, kvCacheUsage] = await Promise.all([
    instantQuery(baseUrl, q.queueDepth, opts),
    instantQuery(baseUrl, q.runningRequests, opts),
    instantQuery(baseUrl, q.tokensPerSecond, opts),
    instantQuery(baseUrl, q.kvCacheUsage, opts),
  ]);
  if (queueDepth === undefined || runningRequests === undefined)
    throw new Error(`Prometheus has no series for ${queueDepth === undefined ? q.queueDepth : q.runningRequests}`);
  return {
    queueDepth,
    runningRequests,
    ...(tokensPerSecond !== undefined && Number.isFinite(tokensPerSecond) ? { tokensPerSecond } : {}),
    ...(kvCacheUsage !== undefined && Number.isFinite(kvCacheUsage) ? { kvCacheUsage } : {}),
  };
}
