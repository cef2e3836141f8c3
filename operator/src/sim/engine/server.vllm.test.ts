// The vLLM face of the simulator, over real HTTP on 127.0.0.1, read with a real Prometheus parser.
// Startup phases are advanced explicitly and queues are held with setWedged, so nothing depends on speed.
import { afterEach, describe, expect, it } from "@jest/globals";
import { sum, value } from "./promtext.ts";
import { startEngineSimulator, type EngineSimulator, type EngineSimulatorOptions } from "./server.ts";
import { parseSse, postJson, scrape, waitFor } from "./testing.ts";

const MODEL = "deepseek-ai/DeepSeek-V4-Flash";
const argv = (...extra: string[]) => [
  "vllm",
  "serve",
  "/models",
  "--served-model-name",
  MODEL,
  "--host",
  "0.0.0.0",
  "--port",
  "8000",
  "--enable-expert-parallel",
  "--max-model-len",
  "65536",
  "--kv-cache-dtype",
  "fp8",
  "--block-size",
  "256",
  "--trust-remote-code",
  ...extra,
];

const sims: EngineSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function up(extra: string[] = [], opts: EngineSimulatorOptions = {}): Promise<EngineSimulator> {
  const sim = await startEngineSimulator({
    argv: argv(...extra),
    port: 0,
    loadSeconds: 0,
    tokensPerSecondPerSeq: 2000,
    tickMs: 2,
    ...opts,
  });
  sims.push(sim);
  await sim.ready;
  return sim;
}

const inFlight = (sim: EngineSimulator) => sim.stats().ranks.reduce((a, r) => a + r.running + r.waiting, 0);

describe("vLLM simulator: startup and health", () => {
  it("keeps the port closed while loading, then answers /health 200", async () => {
    const sim = await startEngineSimulator({ argv: argv(), port: 0, loadSeconds: 3600 });
    sims.push(sim);
    expect(sim.phase()).toBe("loading");
    const err = await fetch(`${sim.url}/health`).then(
      () => undefined,
      (e: unknown) => e as Error & { cause?: { code?: string } },
    );
    expect(err?.cause?.code).toBe("ECONNREFUSED");
    sim.advanceStartup();
    await sim.ready;
    expect(sim.phase()).toBe("up");
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
  });

  it("comes up by itself after --load-seconds", async () => {
    const sim = await startEngineSimulator({ argv: argv(), port: 0, loadSeconds: 0.05 });
    sims.push(sim);
    await sim.ready;
    expect((await fetch(`${sim.url}/health`)).status).toBe(200);
  });

  it("answers 503 on /health and 500 on generation once the engine is dead", async () => {
    const sim = await up();
    sim.kill();
    expect((await fetch(`${sim.url}/health`)).status).toBe(503);
    const res = await postJson(`${sim.url}/v1/completions`, { prompt: "hi", max_tokens: 2 });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe("InternalServerError");
  });

  it("refuses to bind a non-loopback address", async () => {
    await expect(startEngineSimulator({ argv: argv(), host: "0.0.0.0", port: 0 })).rejects.toThrow(/loopback/);
  });
});

describe("vLLM simulator: OpenAI routes", () => {
  it("lists the served model name and max_model_len parsed from the argv", async () => {
    const sim = await up();
    const body = (await (await fetch(`${sim.url}/v1/models`)).json()) as {
      data: Array<{ id: string; max_model_len: number; root: string }>;
    };
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({ id: MODEL, max_model_len: 65536, root: "/models" });
  });

  it("returns exactly max_tokens tokens with usage, for chat and completions", async () => {
    const sim = await up();
    const chat = await postJson(`${sim.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: "user", content: "Explain KV caches." }],
      max_tokens: 9,
    });
    expect(chat.status).toBe(200);
    const c = (await chat.json()) as any;
    expect(c.object).toBe("chat.completion");
    expect(c.choices[0].finish_reason).toBe("length");
    expect(c.choices[0].message.content.split(" ")).toHaveLength(9);
    expect(c.usage.completion_tokens).toBe(9);
    expect(c.usage.total_tokens).toBe(c.usage.prompt_tokens + 9);
    const comp = (await (
      await postJson(`${sim.url}/v1/completions`, { prompt: [1, 2, 3, 4, 5], max_tokens: 4, n: 2 })
    ).json()) as any;
    expect(comp.choices.map((x: any) => x.index)).toEqual([0, 1]);
    expect(comp.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 8 });
  });

  it("streams SSE chunks that add up to the non-streamed answer", async () => {
    const sim = await up();
    const req = { messages: [{ role: "user", content: "same prompt" }], max_tokens: 12 };
    const whole = (await (await postJson(`${sim.url}/v1/chat/completions`, req)).json()) as any;
    const res = await postJson(`${sim.url}/v1/chat/completions`, {
      ...req,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const { events, done } = parseSse(await res.text());
    expect(done).toBe(true);
    const content = events.filter((e) => e.choices.length > 0);
    expect(content).toHaveLength(12);
    expect(content[0].choices[0].delta.role).toBe("assistant");
    expect(content.map((e) => e.choices[0].delta.content).join("")).toBe(whole.choices[0].message.content);
    expect(content.slice(0, -1).every((e) => e.choices[0].finish_reason === null)).toBe(true);
    expect(content[11].choices[0].finish_reason).toBe("length");
    expect(events[events.length - 1].usage).toMatchObject({
      completion_tokens: 12,
      prompt_tokens: whole.usage.prompt_tokens,
    });
  });

  it("answers with the engine's errors: unknown model, context too long, bad body", async () => {
    const sim = await up();
    const unknown = await postJson(`${sim.url}/v1/completions`, { model: "gpt-4", prompt: "x" });
    expect(unknown.status).toBe(404);
    const long = await postJson(`${sim.url}/v1/completions`, { prompt: "x", max_tokens: 70000 });
    expect(long.status).toBe(400);
    expect(((await long.json()) as any).error.message).toMatch(/maximum context length is 65536 tokens/);
    const bad = await fetch(`${sim.url}/v1/chat/completions`, { method: "POST", body: "{not json" });
    expect(bad.status).toBe(400);
    expect((await postJson(`${sim.url}/v1/chat/completions`, { messages: [] })).status).toBe(400);
    expect(sim.stats().requests.rejected).toBe(4);
  });

  it("calls a tool when tools are given, and needs --enable-auto-tool-choice for auto", async () => {
    const tools = [
      {
        type: "function",
        function: {
          name: "get_weather",
          parameters: {
            type: "object",
            properties: { city: { type: "string" }, days: { type: "integer" } },
            required: ["city", "days"],
          },
        },
      },
    ];
    const req = { messages: [{ role: "user", content: "weather?" }], tools };
    const plain = await up();
    expect((await postJson(`${plain.url}/v1/chat/completions`, req)).status).toBe(400);
    const sim = await up(["--tool-call-parser", "deepseek_v4", "--enable-auto-tool-choice"]);
    const body = (await (await postJson(`${sim.url}/v1/chat/completions`, req)).json()) as any;
    expect(body.choices[0].finish_reason).toBe("tool_calls");
    const call = body.choices[0].message.tool_calls[0];
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "simulated", days: 1 });
    const streamed = parseSse(
      await (await postJson(`${sim.url}/v1/chat/completions`, { ...req, stream: true })).text(),
    );
    const args = streamed.events.map((e) => e.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? "").join("");
    expect(args).toBe(call.function.arguments);
  });
});

describe("vLLM simulator: scheduler and metrics", () => {
  it("queues requests beyond --max-num-seqs in vllm:num_requests_waiting, then drains to 0", async () => {
    const sim = await up(["--max-num-seqs", "2"]);
    sim.setWedged(true);
    const pending = Array.from({ length: 6 }, (_, i) =>
      postJson(`${sim.url}/v1/completions`, { prompt: `p${i}`, max_tokens: 20 }),
    );
    await waitFor("6 requests in the engine", () => inFlight(sim) === 6);
    let m = await scrape(sim.url);
    expect(value(m, "vllm:num_requests_waiting", { model_name: MODEL, engine: "0" })).toBe(4);
    expect(value(m, "vllm:num_requests_running", { model_name: MODEL, engine: "0" })).toBe(2);
    expect(value(m, "vllm:kv_cache_usage_perc", { engine: "0" })).toBeGreaterThan(0);
    sim.setWedged(false);
    const done = await Promise.all(pending);
    expect(done.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    m = await scrape(sim.url);
    expect(value(m, "vllm:num_requests_waiting", { engine: "0" })).toBe(0);
    expect(value(m, "vllm:num_requests_running", { engine: "0" })).toBe(0);
    expect(value(m, "vllm:kv_cache_usage_perc", { engine: "0" })).toBe(0);
    expect(value(m, "vllm:request_success_total", { engine: "0", finished_reason: "length" })).toBe(6);
    // Four of them waited: their queue time is counted, and every request got a TTFT and an e2e sample.
    expect(value(m, "vllm:request_queue_time_seconds_count", { engine: "0" })).toBe(6);
    expect(value(m, "vllm:time_to_first_token_seconds_count", { engine: "0" })).toBe(6);
    expect(value(m, "vllm:e2e_request_latency_seconds_count", { engine: "0" })).toBe(6);
  });

  it("grows vllm:generation_tokens_total and prompt_tokens_total by exactly what usage reports", async () => {
    const sim = await up();
    const before = await scrape(sim.url);
    const bodies = [
      postJson(`${sim.url}/v1/completions`, { prompt: "one", max_tokens: 3 }),
      postJson(`${sim.url}/v1/completions`, { prompt: ["two", "three and more"], max_tokens: 7 }),
      postJson(`${sim.url}/v1/chat/completions`, { messages: [{ role: "user", content: "four" }], max_tokens: 11 }),
      postJson(`${sim.url}/v1/chat/completions`, { messages: [{ role: "user", content: "five" }] }),
    ];
    const usages = await Promise.all(bodies.map(async (r) => ((await (await r).json()) as any).usage));
    const streamed = parseSse(
      await (
        await postJson(`${sim.url}/v1/completions`, {
          prompt: "six",
          max_tokens: 5,
          stream: true,
          stream_options: { include_usage: true },
        })
      ).text(),
    );
    usages.push(streamed.events[streamed.events.length - 1].usage);
    const after = await scrape(sim.url);
    const gen = usages.reduce((a, u) => a + u.completion_tokens, 0);
    const prompt = usages.reduce((a, u) => a + u.prompt_tokens, 0);
    expect(gen).toBe(3 + 14 + 11 + 128 + 5);
    expect(sum(after, "vllm:generation_tokens_total") - sum(before, "vllm:generation_tokens_total")).toBe(gen);
    expect(sum(after, "vllm:prompt_tokens_total") - sum(before, "vllm:prompt_tokens_total")).toBe(prompt);
    expect(sum(after, "vllm:request_success_total", { finished_reason: "stop" })).toBe(1);
  });

  it("exposes one series per DP rank (engine label) with --data-parallel-size 4", async () => {
    const sim = await up(["--data-parallel-size", "4"]);
    sim.setWedged(true);
    const pending = Array.from({ length: 8 }, (_, i) =>
      postJson(`${sim.url}/v1/completions`, { prompt: `r${i}`, max_tokens: 2 }),
    );
    await waitFor("8 requests in the engine", () => inFlight(sim) === 8);
    // The load balancer (lowest 4×waiting + running) spreads them evenly.
    const held = await scrape(sim.url);
    for (const e of ["0", "1", "2", "3"]) expect(value(held, "vllm:num_requests_running", { engine: e })).toBe(2);
    sim.setWedged(false);
    await Promise.all(pending);
    const m = await scrape(sim.url);
    for (const name of [
      "vllm:num_requests_waiting",
      "vllm:num_requests_running",
      "vllm:kv_cache_usage_perc",
      "vllm:prompt_tokens_total",
      "vllm:generation_tokens_total",
      "vllm:num_preemptions_total",
      "vllm:time_to_first_token_seconds_count",
    ]) {
      const series = m.get(name.replace(/_count$/, ""))!.samples.filter((s) => s.name === name);
      expect(series.map((s) => s.labels.engine).sort()).toEqual(["0", "1", "2", "3"]);
      expect(series.every((s) => s.labels.model_name === MODEL)).toBe(true);
    }
    expect(m.get("vllm:num_requests_waiting")!.type).toBe("gauge");
    expect(m.get("vllm:generation_tokens_total")!.type).toBe("counter");
    expect(m.get("vllm:e2e_request_latency_seconds")!.type).toBe("histogram");
    // Every rank generated 2 requests × 2 tokens.
    for (const e of ["0", "1", "2", "3"]) expect(value(m, "vllm:generation_tokens_total", { engine: e })).toBe(4);
  });

  it("counts a client that goes away as an abort and frees its slot", async () => {
    const sim = await up();
    sim.setWedged(true);
    const ctl = new AbortController();
    const res = await postJson(
      `${sim.url}/v1/completions`,
      { prompt: "bye", max_tokens: 50, stream: true },
      ctl.signal,
    );
    expect(res.status).toBe(200);
    await waitFor("the request to run", () => inFlight(sim) === 1);
    ctl.abort();
    await waitFor("the abort", () => inFlight(sim) === 0);
    const m = await scrape(sim.url);
    expect(value(m, "vllm:request_success_total", { engine: "0", finished_reason: "abort" })).toBe(1);
    expect(sim.stats().requests.aborted).toBe(1);
  });

  it("serves control over HTTP for out-of-process use", async () => {
    const sim = await up();
    const res = await postJson(`${sim.url}/_sim/control`, { loadMultiplier: 3, wedged: true });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ loadMultiplier: 3, wedged: true, phase: "up" });
    expect((await postJson(`${sim.url}/_sim/control`, { loadMultiplier: -1 })).status).toBe(400);
    await postJson(`${sim.url}/_sim/control`, { dead: true });
    expect((await fetch(`${sim.url}/health`)).status).toBe(503);
  });
});
