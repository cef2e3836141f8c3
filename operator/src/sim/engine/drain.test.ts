// SIGTERM's graceful shutdown in the simulator: what an engine pod's drain relies on.
import { afterEach, expect, it } from "@jest/globals";
import { startEngineSimulator, type EngineSimulator } from "./server.ts";
import { postJson, waitFor } from "./testing.ts";

const sims: EngineSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

it("drain refuses new requests, lets the ones in flight finish whole, then closes", async () => {
  const sim = await startEngineSimulator({
    argv: ["vllm", "serve", "/models", "--served-model-name", "m", "--max-model-len", "8192"],
    port: 0,
    loadSeconds: 0,
    tickMs: 2,
  });
  sims.push(sim);
  await sim.ready;
  sim.setWedged(true); // the request stays in flight until we let it go
  const inflight = postJson(`${sim.url}/v1/completions`, { model: "m", prompt: "hello", max_tokens: 20 });
  await waitFor("the request to be admitted", () => sim.stats().ranks.some((r) => r.running + r.waiting > 0));
  const drained = sim.drain();
  const refused = await postJson(`${sim.url}/v1/completions`, { model: "m", prompt: "late", max_tokens: 5 });
  expect(refused.status).toBe(503);
  expect((await fetch(`${sim.url}/health`)).status).toBe(503);
  expect(sim.phase()).toBe("up");
  sim.setWedged(false);
  const res = await inflight;
  expect(res.status).toBe(200);
  const body = (await res.json()) as { usage: { completion_tokens: number } };
  expect(body.usage.completion_tokens).toBe(20);
  await drained;
  expect(sim.phase()).toBe("closed");
});
