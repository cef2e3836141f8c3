// bench/load.ts against the in-process simulator: its counts must agree with what the engine saw.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { runLoad, formatReport } from "../../../../bench/load.ts";
import { sum } from "./promtext.ts";
import { startEngineSimulator, type EngineSimulator } from "./server.ts";
import { scrape } from "./testing.ts";

let sim: EngineSimulator;
beforeAll(async () => {
  sim = await startEngineSimulator({
    argv: [
      "vllm",
      "serve",
      "/models",
      "--served-model-name",
      "ds-v4",
      "--max-model-len",
      "8192",
      "--data-parallel-size",
      "2",
    ],
    port: 0,
    loadSeconds: 0,
    tokensPerSecondPerSeq: 5000,
    tickMs: 2,
  });
  await sim.ready;
});
afterAll(async () => {
  await sim.close();
});

describe("runLoad", () => {
  it("refuses targets outside 127.0.0.0/8, names included", async () => {
    await expect(runLoad({ url: "http://10.1.2.3:8000", concurrency: 1, durationSeconds: 1 })).rejects.toThrow(
      /127\.0\.0\.0\/8/,
    );
    await expect(runLoad({ url: "http://localhost:8000", concurrency: 1, durationSeconds: 1 })).rejects.toThrow(
      /only 127/,
    );
    await expect(runLoad({ url: sim.url, concurrency: 0, durationSeconds: 1 })).rejects.toThrow(/concurrency/);
  });

  it("stops at --max-requests and reports what the engine counted", async () => {
    const before = await scrape(sim.url);
    const r = await runLoad({
      url: sim.url,
      concurrency: 3,
      durationSeconds: 60,
      maxRequests: 9,
      maxTokens: 7,
      stream: true,
    });
    const after = await scrape(sim.url);
    expect(r).toMatchObject({ model: "ds-v4", requests: 9, errors: 0, cut: 0, completionTokens: 63 });
    expect(sum(after, "vllm:generation_tokens_total") - sum(before, "vllm:generation_tokens_total")).toBe(63);
    expect(sum(after, "vllm:prompt_tokens_total") - sum(before, "vllm:prompt_tokens_total")).toBe(r.promptTokens);
    expect(r.ttftSeconds).not.toBeNull();
    expect(formatReport(r)).toMatch(/9 ok, 0 errors/);
  });

  it("counts engine errors instead of throwing", async () => {
    const r = await runLoad({
      url: sim.url,
      concurrency: 2,
      durationSeconds: 60,
      maxRequests: 4,
      model: "not-served",
      api: "completions",
    });
    expect(r.requests).toBe(0);
    expect(r.errors).toBe(4);
    expect(r.firstErrors[0]).toMatch(/HTTP 404/);
    expect(r.ttftSeconds).toBeNull();
  });
});
