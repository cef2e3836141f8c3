// The engine simulator: an HTTP server that looks like vLLM's or SGLang's OpenAI server for DeepSeek-V4-Flash
// from the outside (startup behaviour, health routes, OpenAI routes, Prometheus names), backed by the
// simulated scheduler in scheduler.ts. Startup:
//   vLLM    loading (port closed: the API server binds only once the engine cores are up) → up
//   SGLang  loading (port closed: launch_server starts uvicorn after the schedulers report ready)
//           → starting (bound; /health and /health_generate 503 until the warm-up generation returns) → up
// Control for tests and the demo: programmatic methods, or GET /_sim/stats and POST /_sim/control.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { rootLogger, type Logger } from "../../util/log.ts";
import { detectEngine, parseEngineArgv, type EngineConfig, type EngineKind } from "./config.ts";
import { engineDeadError, runGeneration, sendJson } from "./generate.ts";
import { sglangRegistry } from "./metrics-sglang.ts";
import { vllmRegistry } from "./metrics-vllm.ts";
import { ApiError, planRequest, type Api } from "./openai.ts";
import { EngineCore, type RankSnapshot } from "./scheduler.ts";

export interface EngineSimulatorOptions {
  /** Default: detected from argv (`vllm serve`, `sglang.launch_server`), else vllm. */
  engine?: EngineKind;
  /** The real engine command line the operator rendered. */
  argv?: string[];
  /** Loopback only. Wins over the argv's --host (which is 0.0.0.0 in a pod). Default 127.0.0.1. */
  host?: string;
  /** Wins over the argv's --port; default the argv's, else 8000 (vLLM) / 30000 (SGLang). 0 = a free port. */
  port?: number;
  /** Weight loading + engine init, during which the port is closed. Default 2. */
  loadSeconds?: number;
  /** SGLang only: time bound but "Starting" before the warm-up generation. Default 0.5. */
  warmupSeconds?: number;
  /** Decode speed of one sequence alone. Default 60 (Dynamo H200 DP4 measured ~51 tok/s per user at 16 concurrent). */
  tokensPerSecondPerSeq?: number;
  /** Prompt tokens per second per DP rank. Default 8000. */
  prefillTokensPerSecond?: number;
  /** Decode step cost growth per extra running sequence. Default 0.02. */
  batchSlowdown?: number;
  /** Running sequences per DP rank; wins over the argv. */
  maxNumSeqs?: number;
  /** KV blocks (of --block-size / --page-size tokens) per DP rank. */
  kvBlocks?: number;
  tickMs?: number;
  /** Answer length when a chat request sets no max_tokens. Default 128. */
  defaultOutputTokens?: number;
  /** SGLang health generation timeout; default $SGLANG_HEALTH_CHECK_TIMEOUT or 20 s, as SGLang. */
  healthCheckTimeoutSeconds?: number;
  logger?: Logger;
}

export type Phase = "loading" | "starting" | "up" | "dead" | "closed";

export interface SimulatorStats {
  engine: EngineKind;
  model: string;
  phase: Phase;
  loadMultiplier: number;
  wedged: boolean;
  ranks: RankSnapshot[];
  requests: { received: number; completed: number; aborted: number; failed: number; rejected: number };
  completionTokens: number;
}

export interface EngineSimulator {
  /** Base URL (http://host:port); nothing listens there while loading. */
  readonly url: string;
  readonly config: EngineConfig;
  /** Resolves when the engine is up (vLLM: bound; SGLang: warm-up done); rejects if startup fails. */
  readonly ready: Promise<void>;
  readonly registry: Registry;
  phase(): Phase;
  /** End the current startup phase now instead of waiting for its timer (tests, demos). */
  advanceStartup(): void;
  stats(): SimulatorStats;
  /** Multiplies every step's cost (2 = half speed), e.g. a degraded GPU. */
  setLoadMultiplier(m: number): void;
  /** A hung GPU loop: requests queue, nothing generates, vLLM's /health stays 200. */
  setWedged(w: boolean): void;
  /** The engine core dies: in-flight requests fail with 500, /health answers 503 from now on. */
  kill(): void;
  /**
   * SIGTERM's graceful shutdown: new requests get 503 and /health 503, requests in flight (running or
   * waiting) finish; resolves once none is left (or after `limitMs`), then closes.
   */
  drain(limitMs?: number): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_PORT: Record<EngineKind, number> = { vllm: 8000, sglang: 30000 };
/** Default KV pool per rank: room for every running slot at 4K tokens, and at least one max-length sequence. */
const DEFAULT_TOKENS_PER_SLOT = 4096;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export function isLoopbackHost(host: string): boolean {
  return (
    (/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(host) && host.split(".").every((o) => Number(o) <= 255)) ||
    host === "localhost" ||
    host === "::1"
  );
}

async function freePort(host: string): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, host, () => resolve());
  });
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startEngineSimulator(options: EngineSimulatorOptions = {}): Promise<EngineSimulator> {
  const argv = options.argv ?? [];
  const engine = options.engine ?? detectEngine(argv) ?? "vllm";
  const config = parseEngineArgv(
    engine,
    argv,
    options.maxNumSeqs !== undefined ? { maxNumSeqs: options.maxNumSeqs } : {},
  );
  const host = options.host ?? "127.0.0.1";
  if (!isLoopbackHost(host))
    throw new RangeError(`engine simulator: host ${host} is not a loopback address; it only serves 127.0.0.0/8`);
  const log = (options.logger ?? rootLogger).child({
    module: "engine-simulator",
    engine,
    model: config.servedModelNames[0],
  });

  const kvBlocks =
    options.kvBlocks ??
    (config.maxTotalTokens !== undefined
      ? Math.ceil(config.maxTotalTokens / config.blockSize)
      : Math.max(
          Math.ceil((config.maxSeqsPerRank * DEFAULT_TOKENS_PER_SLOT) / config.blockSize),
          Math.ceil(config.maxModelLen / config.blockSize),
        ));
  const core = new EngineCore({
    ranks: config.dataParallel,
    maxSeqsPerRank: config.maxSeqsPerRank,
    kvBlocksPerRank: kvBlocks,
    blockSize: config.blockSize,
    tokensPerSecondPerSeq: options.tokensPerSecondPerSeq ?? 60,
    prefillTokensPerSecond: options.prefillTokensPerSecond ?? 8000,
    batchSlowdown: options.batchSlowdown ?? 0.02,
    dispatch: engine === "vllm" ? "least-loaded" : "round-robin",
    tickSeconds: (options.tickMs ?? 10) / 1000,
  });
  // Both engines refuse to start when one max-length sequence cannot fit in the KV pool.
  if (!core.fits(config.maxModelLen)) {
    throw new RangeError(
      `engine simulator: max model length ${config.maxModelLen} needs ${core.blocksFor(config.maxModelLen)} KV ` +
        `blocks of ${config.blockSize} tokens, but a rank has ${kvBlocks}; lower the max model length or raise --kv-blocks`,
    );
  }

  const startedAt = performance.now();
  let loadedAt: number | undefined;
  let upAt: number | undefined;
  const registry =
    engine === "vllm"
      ? vllmRegistry(core, config)
      : sglangRegistry(core, config, {
          startupSeconds: () => (upAt === undefined ? undefined : (upAt - startedAt) / 1000),
          loadWeightsSeconds: () => (loadedAt === undefined ? undefined : (loadedAt - startedAt) / 1000),
        });

  let lastTokenAt = 0;
  const counts = { received: 0, completed: 0, aborted: 0, failed: 0, rejected: 0 };
  let completionTokens = 0;
  core.observe({
    tokensGenerated: () => {
      lastTokenAt = performance.now();
    },
  });

  const port =
    options.port === 0 || (options.port === undefined && config.port === 0)
      ? await freePort(host)
      : (options.port ?? config.port ?? DEFAULT_PORT[engine]);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const healthTimeout = options.healthCheckTimeoutSeconds ?? Number(process.env.SGLANG_HEALTH_CHECK_TIMEOUT ?? 20);

  let phase: Phase = "loading";
  let draining = false;
  let server: Server | undefined;
  let phaseTimer: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  let rejectReady!: (e: unknown) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined); // callers that never await `ready` must not see an unhandled rejection

  /** SGLang's health: a 1-token generation on DP rank 0; any token from any request since counts. */
  const healthGenerate = (): Promise<boolean> =>
    new Promise((resolve) => {
      const tic = performance.now();
      let finished = false;
      const end = (ok: boolean) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearInterval(poll);
        handle.abort();
        resolve(ok);
      };
      const handle = core.submit({
        promptTokens: 1,
        outputTokens: 1,
        finishReason: "length",
        internal: true,
        rank: 0,
        onTokens: () => end(true),
        onFinish: (r) => {
          if (r === "error") end(false);
        },
      });
      const poll = setInterval(() => {
        if (lastTokenAt > tic) end(true);
      }, 50);
      const timer = setTimeout(() => end(false), healthTimeout * 1000);
    });

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0]!;
    const method = req.method ?? "GET";
    const notAllowed = () => sendJson(res, 405, { detail: "Method Not Allowed" });

    if (path === "/health" || path === "/health_generate") {
      if (method !== "GET" && method !== "HEAD") return notAllowed();
      if (draining) return void res.writeHead(503).end();
      if (engine === "vllm") {
        if (path === "/health_generate") return sendJson(res, 404, { detail: "Not Found" });
        res.writeHead(phase === "up" ? 200 : 503).end();
        return;
      }
      if (phase !== "up") return void res.writeHead(503).end();
      if (path === "/health" && process.env.SGLANG_ENABLE_HEALTH_ENDPOINT_GENERATION === "false")
        return void res.writeHead(200).end();
      res.writeHead((await healthGenerate()) ? 200 : 503).end();
      return;
    }
    if (path === "/metrics") {
      if (method !== "GET") return notAllowed();
      if (!config.metricsEnabled) return sendJson(res, 404, { detail: "Not Found" });
      const text = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType }).end(text);
      return;
    }
    if (path === "/v1/models") {
      if (method !== "GET") return notAllowed();
      const created = Math.floor(Date.now() / 1000);
      return sendJson(res, 200, {
        object: "list",
        data: config.servedModelNames.map((id) => ({
          id,
          object: "model",
          created,
          owned_by: engine,
          root: engine === "vllm" ? config.modelPath : id,
          parent: null,
          max_model_len: config.maxModelLen,
        })),
      });
    }
    if (path === "/version" && engine === "vllm") return sendJson(res, 200, { version: "0.20.0+simulated" });
    if (path === "/get_model_info" && engine === "sglang") {
      return sendJson(res, 200, {
        model_path: config.modelPath,
        tokenizer_path: config.modelPath,
        is_generation: true,
        preferred_sampling_params: null,
        weight_version: "default",
        has_image_understanding: false,
        has_audio_understanding: false,
        model_type: "deepseek_v4",
        architectures: ["DeepseekV4ForCausalLM"],
      });
    }
    if (path === "/v1/chat/completions" || path === "/v1/completions") {
      if (method !== "POST") return notAllowed();
      return generate(path === "/v1/chat/completions" ? "chat" : "completions", req, res);
    }
    if (path === "/_sim/stats" && method === "GET") return sendJson(res, 200, stats());
    if (path === "/_sim/control" && method === "POST") return control(req, res);
    sendJson(res, 404, { detail: "Not Found" });
  };

  const generate = async (api: Api, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    counts.received++;
    if (draining) {
      counts.rejected++;
      return sendJson(res, 503, {
        error: { message: "the engine is shutting down", type: "ServiceUnavailable", param: null, code: 503 },
      });
    }
    if (phase === "dead") {
      counts.failed++;
      const err = engineDeadError();
      return sendJson(res, err.status, err.body());
    }
    let plan;
    try {
      const text = await readBody(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiError(400, "request body is not valid JSON");
      }
      plan = planRequest(api, body, { config, defaultOutputTokens: options.defaultOutputTokens ?? 128 });
    } catch (err) {
      counts.rejected++;
      if (err instanceof ApiError) return sendJson(res, err.status, err.body());
      throw err;
    }
    const outcome = await runGeneration(core, plan, res);
    completionTokens += outcome.completionTokens;
    if (outcome.status === "ok") counts.completed++;
    else if (outcome.status === "aborted") counts.aborted++;
    else counts.failed++;
  };

  const control = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body: { loadMultiplier?: unknown; wedged?: unknown; dead?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      return sendJson(res, 400, {
        error: "body must be JSON: {loadMultiplier?: number, wedged?: boolean, dead?: true}",
      });
    }
    try {
      if (body.loadMultiplier !== undefined) sim.setLoadMultiplier(Number(body.loadMultiplier));
      if (body.wedged !== undefined) sim.setWedged(body.wedged === true);
      if (body.dead === true) sim.kill();
    } catch (err) {
      return sendJson(res, 400, { error: (err as Error).message });
    }
    sendJson(res, 200, stats());
  };

  const stats = (): SimulatorStats => ({
    engine,
    model: config.servedModelNames[0]!,
    phase,
    loadMultiplier: core.loadMultiplier,
    wedged: core.wedged,
    ranks: core.snapshot(),
    requests: { ...counts },
    completionTokens,
  });

  const bind = async (): Promise<void> => {
    if (config.headless) {
      // A vLLM --headless worker runs engine cores only; the leader's API server serves its ranks.
      log.info({ dataParallel: config.dataParallel }, "headless engine: no API server");
      return;
    }
    const srv = createServer((req, res) => {
      route(req, res).catch((err: unknown) => {
        log.error({ err, url: req.url }, "engine simulator request failed");
        if (!res.headersSent)
          sendJson(res, 500, { error: { message: String(err), type: "InternalServerError", param: null, code: 500 } });
        else res.end();
      });
    });
    srv.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, host, () => {
        srv.off("error", reject);
        resolve();
      });
    });
    server = srv;
  };

  const becomeUp = () => {
    if (phase !== "loading" && phase !== "starting") return;
    phase = "up";
    upAt = performance.now();
    log.info({ url, startupSeconds: (upAt - startedAt) / 1000 }, "engine simulator up");
    resolveReady();
  };

  const warmup = () => {
    phaseTimer = undefined;
    // SGLang's _wait_and_warmup: one short generation, then server_status = Up.
    core.submit({
      promptTokens: 8,
      outputTokens: 1,
      finishReason: "length",
      internal: true,
      rank: 0,
      onFinish: (r) => {
        if (r !== "error") becomeUp();
      },
    });
  };

  const finishLoading = () => {
    phaseTimer = undefined;
    loadedAt = performance.now();
    bind().then(
      async () => {
        if (phase === "closed") {
          // close() ran while we were binding: do not leave a listener behind.
          const srv = server;
          server = undefined;
          if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
          return;
        }
        if (phase !== "loading") return; // killed while loading: bound, and /health says 503
        core.start();
        if (engine === "vllm") return becomeUp();
        phase = "starting";
        log.info({ url }, "engine simulator bound, warming up");
        phaseTimer = setTimeout(warmup, (options.warmupSeconds ?? 0.5) * 1000);
      },
      (err: unknown) => {
        log.error({ err, url }, "engine simulator could not bind");
        phase = "closed";
        rejectReady(new Error(`engine simulator could not bind ${url}: ${(err as Error).message}`));
      },
    );
  };

  phaseTimer = setTimeout(finishLoading, (options.loadSeconds ?? 2) * 1000);
  log.info(
    {
      url,
      loadSeconds: options.loadSeconds ?? 2,
      dataParallel: config.dataParallel,
      maxSeqsPerRank: config.maxSeqsPerRank,
      kvBlocksPerRank: kvBlocks,
      maxModelLen: config.maxModelLen,
    },
    "engine simulator loading",
  );

  const sim: EngineSimulator = {
    url,
    config,
    ready,
    registry,
    phase: () => phase,
    advanceStartup() {
      if (!phaseTimer) return;
      clearTimeout(phaseTimer);
      if (phase === "loading") finishLoading();
      else if (phase === "starting") warmup();
    },
    stats,
    setLoadMultiplier: (m) => core.setLoadMultiplier(m),
    setWedged: (w) => core.setWedged(w),
    kill() {
      if (phase === "closed") return;
      phase = "dead";
      log.warn({ url }, "engine core killed");
      core.failAll();
      rejectReady(new Error("engine died before it was up"));
    },
    async drain(limitMs = Infinity) {
      draining = true;
      const end = Date.now() + limitMs;
      const busy = () => core.snapshot().some((r) => r.running + r.waiting > 0);
      log.info({ url }, "draining: refusing new requests, waiting for those in flight");
      while (phase === "up" && busy() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      await sim.close();
    },
    async close() {
      if (phaseTimer) clearTimeout(phaseTimer);
      phaseTimer = undefined;
      const wasUp = phase === "up";
      phase = "closed";
      core.stop();
      core.failAll();
      if (!wasUp) rejectReady(new Error("engine simulator closed before it was up"));
      const srv = server;
      server = undefined;
      if (srv) {
        await new Promise<void>((resolve) => {
          srv.close(() => resolve());
          srv.closeAllConnections();
        });
      }
    },
  };
  return sim;
}
