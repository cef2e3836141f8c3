// The SGLang face: closed port while loading, "Starting" (503) until the warm-up generation, the
// generation-backed health routes, SGLang's metric names and per-rank labels.
import { afterEach, describe, expect, it } from "@jest/globals";
import { samples, sum, value } from "./promtext.ts";
import { startEngineSimulator, type EngineSimulator, type EngineSimulatorOptions } from "./server.ts";
import { postJson, scrape, waitFor } from "./testing.ts";

const MODEL = "deepseek-ai/DeepSeek-V4-Flash";
const argv = (...extra: string[]) => [
  "python3",
  "-m",
  "sglang.launch_server",
  "--model-path",
  "/models",
  "--served-model-name",
  MODEL,
  "--host",
  "0.0.0.0",
  "--port",
  "8000",
  "--tp",
  "4",
  "--dp",
  "4",
  "--enable-dp-attention",
  "--context-length",
  "65536",
  "--kv-cache-dtype",
  "fp8_e4m3",
  "--max-running-requests",
  "8",
  "--trust-remote-code",
  ...extra,
];

const sims: EngineSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function start(
  extra: string[] = ["--enable-metrics"],
  opts: EngineSimulatorOptions = {},
): Promise<EngineSimulator> {
  const sim = await startEngineSimulator({
    argv: argv(...extra),
    port: 0,
    loadSeconds: 0,
    warmupSeconds: 0,
    tokensPerSecondPerSeq: 2000,
    tickMs: 2,
    ...opts,
  });
  sims.push(sim);
  return sim;
}

const inFlight = (sim: EngineSimulator) => sim.stats().ranks.reduce((a, r) => a + r.running + r.waiting, 0);

describe("SGLang simulator", () => {
  it("is closed while loading, 503 while Starting, and 200 on /health_generate once warmed up", async () => {
    const sim = await start(["--enable-metrics"], { loadSeconds: 3600, warmupSeconds: 3600 });
    expect(sim.config.engine).toBe("sglang");
    const refused = await fetch(`${sim.url}/health_generate`).then(
      () => undefined,
      (e: unknown) => (e as { cause?: { code?: string } }).cause?.code,
    );
    expect(refused).toBe("ECONNREFUSED");
    sim.advanceStartup();
    await waitFor("the port to bind", () => sim.phase() === "starting");
    expect((await fetch(`${sim.url}/health_generate`)).status).toBe(503);
    expect((await fetch(`${sim.url}/health`)).status).toBe(503);
    sim.advanceStartup();
    await sim.ready;
    expect((await fetch(`${sim.url}/health_generate`)).status).toBe(200);
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
    // Health generations are internal: they never show up as requests.
    const m = await scrape(sim.url);
    expect(samples(m, "sglang:num_requests_total")).toEqual([]);
    expect(value(m, "sglang:engine_startup_time", { dp_rank: "0" })).toBeGreaterThan(0);
  });

  it("fails /health_generate when the GPU loop hangs", async () => {
    const sim = await start(["--enable-metrics"], { healthCheckTimeoutSeconds: 0.1 });
    await sim.ready;
    sim.setWedged(true);
    expect((await fetch(`${sim.url}/health_generate`)).status).toBe(503);
    sim.setWedged(false);
    expect((await fetch(`${sim.url}/health_generate`)).status).toBe(200);
  });

  it("exposes SGLang's names with one scheduler series per DP rank", async () => {
    const sim = await start();
    await sim.ready;
    const m = await scrape(sim.url);
    for (const name of [
      "sglang:num_queue_reqs",
      "sglang:num_running_reqs",
      "sglang:token_usage",
      "sglang:gen_throughput",
      "sglang:max_total_num_tokens",
    ]) {
      expect(m.get(name)!.type).toBe("gauge");
      const series = samples(m, name);
      expect(series.map((s) => s.labels.dp_rank)).toEqual(["0", "1", "2", "3"]);
      expect(series[2]!.labels).toEqual({
        model_name: MODEL,
        engine_type: "unified",
        tp_rank: "2",
        pp_rank: "0",
        moe_ep_rank: "0",
        dp_rank: "2",
      });
    }
    // Tokenizer-side counters appear with the first finished request, as prometheus_client children do.
    expect(samples(m, "sglang:prompt_tokens_total")).toEqual([]);
    expect(m.get("sglang:time_to_first_token_seconds")!.type).toBe("histogram");
  });

  it("queues past --max-running-requests / dp per rank and counts tokens exactly", async () => {
    const sim = await start();
    await sim.ready;
    expect(sim.config.maxSeqsPerRank).toBe(2);
    sim.setWedged(true);
    const pending = Array.from({ length: 12 }, (_, i) =>
      postJson(`${sim.url}/v1/completions`, { prompt: `q${i}`, max_tokens: 6 }),
    );
    await waitFor("12 requests in the engine", () => inFlight(sim) === 12);
    let m = await scrape(sim.url);
    // Round-robin over 4 ranks: 3 each, 2 running and 1 queued.
    expect(sum(m, "sglang:num_queue_reqs")).toBe(4);
    expect(samples(m, "sglang:num_running_reqs").map((s) => s.value)).toEqual([2, 2, 2, 2]);
    expect(value(m, "sglang:token_usage", { dp_rank: "1" })).toBeGreaterThan(0);
    sim.setWedged(false);
    const usages = await Promise.all(pending.map(async (r) => ((await (await r).json()) as any).usage));
    m = await scrape(sim.url);
    expect(sum(m, "sglang:num_queue_reqs")).toBe(0);
    expect(value(m, "sglang:generation_tokens_total", { model_name: MODEL })).toBe(72);
    expect(value(m, "sglang:prompt_tokens_total")).toBe(usages.reduce((a, u) => a + u.prompt_tokens, 0));
    expect(value(m, "sglang:num_requests_total")).toBe(12);
    expect(value(m, "sglang:time_to_first_token_seconds_count")).toBe(12);
    expect(sum(m, "sglang:queue_time_seconds_count")).toBe(12);
  });

  it("serves /get_model_info and /v1/models, and no /metrics without --enable-metrics", async () => {
    const sim = await start([]);
    await sim.ready;
    expect((await fetch(`${sim.url}/metrics`)).status).toBe(404);
    const info = (await (await fetch(`${sim.url}/get_model_info`)).json()) as any;
    expect(info).toMatchObject({ model_path: "/models", is_generation: true });
    const models = (await (await fetch(`${sim.url}/v1/models`)).json()) as any;
    expect(models.data[0]).toMatchObject({ id: MODEL, owned_by: "sglang", max_model_len: 65536 });
  });
});
