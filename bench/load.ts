// A bounded OpenAI-compatible load generator for the engine simulator (or a real engine behind a
// port-forward on 127.0.0.1): N closed-loop workers send requests until the duration ends, then the
// stragglers get a short grace and are cut. It refuses any target outside 127.0.0.0/8.
//
// PATH=$PWD/node_modules/.bin:$PATH node bench/load.ts --url http://127.0.0.1:8000 --concurrency 16 --duration 10
// [--max-tokens 64] [--stream]
//
// Prints requests/s, generated tokens/s, TTFT p50/p95 (streaming) and errors; --json prints the report.
// --concurrency 1,16,64 runs one phase per level and adds each level's throughput as a ratio to the
// first, measured in the same run (how the engine's batching scales, independent of this machine).
import { parseArgs } from "node:util";
import { assertLoopbackUrl, sendRequest, type LoadApi } from "./lib/load-client.ts";
import { quantiles, type Quantiles } from "./lib/load-stats.ts";

export interface LoadOptions {
  url: string;
  concurrency: number;
  durationSeconds: number;
  maxTokens?: number;
  stream?: boolean;
  api?: LoadApi;
  /** Default: the first model /v1/models lists. */
  model?: string;
  /** Approximate prompt length in tokens (about 4 characters each). Default 64. */
  promptTokens?: number;
  /** Stop after this many requests even if time is left. */
  maxRequests?: number;
  /** How long requests still running at the deadline may take before they are cut. Default 10 s. */
  graceSeconds?: number;
}

export interface LoadReport {
  url: string;
  model: string;
  api: LoadApi;
  stream: boolean;
  concurrency: number;
  maxTokens: number;
  /** Wall time from the first request to the last response. */
  elapsedSeconds: number;
  requests: number;
  errors: number;
  /** Requests still running at the hard stop. */
  cut: number;
  firstErrors: string[];
  requestsPerSecond: number;
  promptTokens: number;
  completionTokens: number;
  /** Generated tokens per second, counting tokens of cut requests too. */
  tokensPerSecond: number;
  ttftSeconds: Quantiles | null;
  latencySeconds: Quantiles | null;
}

export const LIMITS = {
  concurrency: 1024,
  durationSeconds: 3600,
  maxTokens: 65536,
  promptTokens: 1_000_000,
  maxRequests: 10_000_000,
} as const;

function check(name: string, v: number, min: number, max: number, integer = true): number {
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new Error(`${name} must be ${integer ? "an integer" : "a number"} in [${min}, ${max}], got ${v}`);
  }
  return v;
}

async function discoverModel(base: URL): Promise<string> {
  const res = await fetch(new URL("/v1/models", base), { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${new URL("/v1/models", base).href}: HTTP ${res.status}`);
  const body = (await res.json()) as { data?: Array<{ id?: string }> };
  const id = body.data?.[0]?.id;
  if (!id) throw new Error(`GET ${new URL("/v1/models", base).href} listed no model`);
  return id;
}

function promptFor(i: number, tokens: number): string {
  const head = `Request ${i}: summarise the following notes. `;
  return head + "lorem ipsum dolor sit amet ".repeat(Math.max(0, Math.ceil((tokens * 4 - head.length) / 27)));
}

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const base = assertLoopbackUrl(o.url);
  const concurrency = check("concurrency", o.concurrency, 1, LIMITS.concurrency);
  const duration = check("duration", o.durationSeconds, 0.001, LIMITS.durationSeconds, false);
  const maxTokens = check("max-tokens", o.maxTokens ?? 64, 1, LIMITS.maxTokens);
  const promptTokens = check("prompt-tokens", o.promptTokens ?? 64, 1, LIMITS.promptTokens);
  const maxRequests = check("max-requests", o.maxRequests ?? LIMITS.maxRequests, 1, LIMITS.maxRequests);
  const grace = check("grace", o.graceSeconds ?? 10, 0, 600, false);
  const api = o.api ?? "chat";
  const stream = o.stream ?? false;
  const model = o.model ?? (await discoverModel(base));

  const hardStop = new AbortController();
  const start = performance.now();
  const deadline = start + duration * 1000;
  const stopTimer = setTimeout(() => hardStop.abort(), (duration + grace) * 1000);
  let issued = 0;
  let requests = 0;
  let errors = 0;
  let cut = 0;
  let prompt = 0;
  let completion = 0;
  let lastDone = start;
  const firstErrors: string[] = [];
  const ttfts: number[] = [];
  const latencies: number[] = [];

  const worker = async () => {
    while (performance.now() < deadline && issued < maxRequests && !hardStop.signal.aborted) {
      const i = issued++;
      const r = await sendRequest({
        baseUrl: base.href,
        api,
        model,
        prompt: promptFor(i, promptTokens),
        maxTokens,
        stream,
        signal: hardStop.signal,
      });
      lastDone = performance.now();
      if (r.kind === "ok") {
        requests++;
        prompt += r.promptTokens;
        completion += r.completionTokens;
        latencies.push(r.latencySeconds);
        if (r.ttftSeconds !== undefined) ttfts.push(r.ttftSeconds);
      } else if (r.kind === "cut") {
        cut++;
        completion += r.completionTokens;
      } else {
        errors++;
        if (firstErrors.length < 5) firstErrors.push(r.message);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    clearTimeout(stopTimer);
  }
  const elapsed = Math.max(1e-9, (lastDone - start) / 1000);
  return {
    url: base.origin,
    model,
    api,
    stream,
    concurrency,
    maxTokens,
    elapsedSeconds: elapsed,
    requests,
    errors,
    cut,
    firstErrors,
    requestsPerSecond: requests / elapsed,
    promptTokens: prompt,
    completionTokens: completion,
    tokensPerSecond: completion / elapsed,
    ttftSeconds: quantiles(ttfts),
    latencySeconds: quantiles(latencies),
  };
}

const s = (x: number) => `${x.toFixed(3)} s`;

export function formatReport(r: LoadReport): string {
  const lines = [
    `load: ${r.concurrency} workers for ${r.elapsedSeconds.toFixed(1)} s against ${r.url} (${r.model}, ${r.api}, ` +
      `max_tokens ${r.maxTokens}${r.stream ? ", stream" : ""})`,
    `requests: ${r.requests} ok, ${r.errors} errors, ${r.cut} cut at the stop  |  ${r.requestsPerSecond.toFixed(2)} req/s`,
    `tokens:   ${r.completionTokens} generated, ${r.promptTokens} prompt  |  ${r.tokensPerSecond.toFixed(1)} generated tok/s`,
    `TTFT:     ${r.ttftSeconds ? `p50 ${s(r.ttftSeconds.p50)}  p95 ${s(r.ttftSeconds.p95)}` : "n/a (needs --stream)"}`,
    `latency:  ${r.latencySeconds ? `p50 ${s(r.latencySeconds.p50)}  p95 ${s(r.latencySeconds.p95)}` : "n/a"}`,
  ];
  for (const e of r.firstErrors) lines.push(`error:    ${e}`);
  return lines.join("\n") + "\n";
}

const USAGE = `usage: node bench/load.ts --url http://127.0.0.1:PORT --concurrency N --duration SECONDS
       [--max-tokens M] [--stream] [--api chat|completions] [--model NAME] [--prompt-tokens P]
       [--max-requests R] [--grace SECONDS] [--json]`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: "string" },
        concurrency: { type: "string" },
        duration: { type: "string" },
        "max-tokens": { type: "string" },
        stream: { type: "boolean", default: false },
        api: { type: "string", default: "chat" },
        model: { type: "string" },
        "prompt-tokens": { type: "string" },
        "max-requests": { type: "string" },
        grace: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (!values.url || !values.concurrency || !values.duration) {
    process.stderr.write(`--url, --concurrency and --duration are required\n${USAGE}\n`);
    return 2;
  }
  if (values.api !== "chat" && values.api !== "completions") {
    process.stderr.write(`--api must be chat or completions\n`);
    return 2;
  }
  const opt = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const levels = values.concurrency.split(",").map(Number);
  const reports: LoadReport[] = [];
  try {
    for (const concurrency of levels)
      reports.push(
        await runLoad({
          url: values.url,
          concurrency,
          durationSeconds: Number(values.duration),
          stream: values.stream,
          api: values.api,
          ...(values.model ? { model: values.model } : {}),
          ...(opt(values["max-tokens"]) !== undefined ? { maxTokens: opt(values["max-tokens"])! } : {}),
          ...(opt(values["prompt-tokens"]) !== undefined ? { promptTokens: opt(values["prompt-tokens"])! } : {}),
          ...(opt(values["max-requests"]) !== undefined ? { maxRequests: opt(values["max-requests"])! } : {}),
          ...(opt(values.grace) !== undefined ? { graceSeconds: opt(values.grace)! } : {}),
        }),
      );
  } catch (err) {
    process.stderr.write(`load: ${(err as Error).message}\n`);
    return 2;
  }
  if (values.json) process.stdout.write(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + "\n");
  else {
    process.stdout.write(reports.map(formatReport).join("\n"));
    if (reports.length > 1) process.stdout.write("\n" + formatSweep(reports));
  }
  return reports.some((r) => r.requests === 0 && r.errors > 0) ? 1 : 0;
}

/** Throughput per concurrency level relative to the first level of the same run. */
export function formatSweep(reports: LoadReport[]): string {
  const base = reports[0]!;
  const rows = reports.map((r) => {
    const ratio = base.tokensPerSecond > 0 ? r.tokensPerSecond / base.tokensPerSecond : NaN;
    const ttft = r.ttftSeconds ? r.ttftSeconds.p95.toFixed(3) : "n/a";
    return (
      `  ${String(r.concurrency).padStart(5)}  ${r.tokensPerSecond.toFixed(1).padStart(9)}  ` +
      `${ratio.toFixed(2).padStart(6)}x  ${(ratio / (r.concurrency / base.concurrency)).toFixed(2).padStart(10)}  ${ttft.padStart(8)}`
    );
  });
  return (
    [
      `sweep (ratios to concurrency ${base.concurrency} in this run):`,
      "  conc.      tok/s  vs base  per-worker  TTFT p95",
      ...rows,
    ].join("\n") + "\n"
  );
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
