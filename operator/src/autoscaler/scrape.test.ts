// The scraper against the engine simulator over real HTTP: the metrics contract (sums over the
// data-parallel ranks, the counter's rate), and that missing or stale metrics are never read as idle.
import { afterEach, describe, expect, it } from "@jest/globals";
import { startEngineSimulator, type EngineSimulator } from "../sim/engine/server.ts";
import { postJson, waitFor } from "../sim/engine/testing.ts";
import { PodScraper, type PodTarget } from "./scrape.ts";
import { counterRate, MetricsError, readEngine } from "./signals.ts";

const sims: EngineSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(argv: string[]): Promise<EngineSimulator> {
  const s = await startEngineSimulator({ argv, port: 0, loadSeconds: 0, warmupSeconds: 0, tickMs: 2 });
  sims.push(s);
  await s.ready;
  return s;
}

const target = (s: EngineSimulator, uid = "pod-a"): PodTarget => {
  const u = new URL(s.url);
  return { uid, name: uid, ip: u.hostname, port: Number(u.port) };
};

const VLLM_DP4 = [
  "vllm",
  "serve",
  "/models",
  "--served-model-name",
  "m",
  "--data-parallel-size",
  "4",
  "--max-num-seqs",
  "1",
  "--max-model-len",
  "8192",
];

describe("readEngine", () => {
  it("sums waiting and running over the engine series and keeps the fullest rank's KV usage", () => {
    const text = [
      "# TYPE vllm:num_requests_waiting gauge",
      'vllm:num_requests_waiting{engine="0",model_name="m"} 3',
      'vllm:num_requests_waiting{engine="1",model_name="m"} 2',
      "# TYPE vllm:num_requests_running gauge",
      'vllm:num_requests_running{engine="0",model_name="m"} 1',
      'vllm:num_requests_running{engine="1",model_name="m"} 4',
      "# TYPE vllm:kv_cache_usage_perc gauge",
      'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25',
      'vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.75',
      "# TYPE vllm:generation_tokens_total counter",
      'vllm:generation_tokens_total{engine="0",model_name="m"} 100',
      'vllm:generation_tokens_total{engine="1",model_name="m"} 50',
      "",
    ].join("\n");
    expect(readEngine(text, "vllm")).toEqual({
      waiting: 5,
      running: 5,
      generationTokensTotal: 150,
      kvCacheUsage: 0.75,
    });
  });

  it("refuses an exposition without the queue gauges instead of reading zero", () => {
    expect(() => readEngine("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3\n", "vllm")).toThrow(
      MetricsError,
    );
    expect(() => readEngine("vllm:num_requests_waiting 0\n", "vllm")).toThrow(/vllm:num_requests_running absent/);
    expect(() => readEngine("", "sglang")).toThrow(/--enable-metrics/);
  });

  it("counts a counter that went down as restarted from zero, like rate()", () => {
    expect(counterRate({ value: 100, atMs: 0 }, { value: 400, atMs: 10_000 })).toBe(30);
    expect(counterRate({ value: 900, atMs: 0 }, { value: 50, atMs: 10_000 })).toBe(5);
    expect(counterRate(undefined, { value: 50, atMs: 10_000 })).toBeUndefined();
  });
});

describe("PodScraper against the simulator", () => {
  it("vLLM DP4: the queue summed over the four engines, then the token rate between two reads", async () => {
    const s = await sim(VLLM_DP4);
    s.setWedged(true);
    const reqs = Array.from({ length: 7 }, (_, i) =>
      postJson(`${s.url}/v1/completions`, { model: "m", prompt: `p${i}`, max_tokens: 30 }),
    );
    await waitFor("7 requests admitted", () => s.stats().ranks.reduce((a, r) => a + r.running + r.waiting, 0) === 7);
    const scraper = new PodScraper();
    const [first] = await scraper.read([target(s)], "vllm", 1_000, 60_000);
    expect(first).toMatchObject({ state: "fresh", running: 4, waiting: 3 });
    expect(first!.tokensPerSecond).toBeUndefined(); // one reading of a counter is not a rate
    s.setWedged(false);
    await Promise.all(reqs);
    const [second] = await scraper.read([target(s)], "vllm", 11_000, 60_000);
    expect(second).toMatchObject({ state: "fresh", running: 0, waiting: 0 });
    // 7 × 30 tokens over the 10 s between the two reads.
    expect(second!.tokensPerSecond).toBeCloseTo(21, 5);
  });

  it("SGLang: its names, with dp_rank series", async () => {
    const s = await sim([
      "python3",
      "-m",
      "sglang.launch_server",
      "--model-path",
      "/models",
      "--tp",
      "4",
      "--dp",
      "2",
      "--enable-dp-attention",
      "--max-running-requests",
      "2",
      "--context-length",
      "8192",
      "--enable-metrics",
    ]);
    s.setWedged(true);
    const reqs = Array.from({ length: 5 }, (_, i) =>
      postJson(`${s.url}/v1/completions`, { prompt: `p${i}`, max_tokens: 5 }),
    );
    await waitFor("5 requests admitted", () => s.stats().ranks.reduce((a, r) => a + r.running + r.waiting, 0) === 5);
    const [r] = await new PodScraper().read([target(s)], "sglang", 1_000, 60_000);
    expect(r).toMatchObject({ state: "fresh", running: 2, waiting: 3 });
    expect(r!.tokensPerSecond).toBeDefined();
    s.setWedged(false);
    await Promise.all(reqs);
  });

  it("a pod that stops answering keeps its last reading until it is stale; one never read is missing", async () => {
    const s = await sim(VLLM_DP4);
    const t = target(s);
    const scraper = new PodScraper({ timeoutMs: 1_000 });
    expect((await scraper.read([t], "vllm", 0, 30_000))[0]).toMatchObject({ state: "fresh", waiting: 0 });
    await s.close();
    const soon = (await scraper.read([t], "vllm", 10_000, 30_000))[0]!;
    expect(soon.state).toBe("fresh");
    expect(soon.error).toBeDefined();
    const late = (await scraper.read([t], "vllm", 40_000, 30_000))[0]!;
    expect(late.state).toBe("stale");
    const never = (await new PodScraper({ timeoutMs: 1_000 }).read([t], "vllm", 0, 30_000))[0]!;
    expect(never.state).toBe("missing");
    expect(never.waiting).toBeUndefined();
  });

  it("SGLang without --enable-metrics is missing, not idle", async () => {
    const s = await sim([
      "python3",
      "-m",
      "sglang.launch_server",
      "--model-path",
      "/models",
      "--context-length",
      "8192",
    ]);
    const [r] = await new PodScraper().read([target(s)], "sglang", 0, 30_000);
    expect(r).toMatchObject({ state: "missing" });
    expect(r!.error).toMatch(/HTTP 404/);
  });
});
