// The autoscaler's Prometheus source against a real Prometheus server (built from its Go module into
// the cache by test/cluster/build-prometheus.sh) scraping the engine simulator: the default queries
// the loop and the KEDA trigger use read the queue, the running requests, KV usage and the token rate,
// and a deployment Prometheus has no series for reads as missing, never as idle.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { queriesFor } from "../../operator/src/render/index.ts";
import { readPrometheus } from "../../operator/src/autoscaler/prometheus.ts";
import { startEngineSimulator, type EngineSimulator } from "../../operator/src/sim/engine/server.ts";
import { postJson } from "../../operator/src/sim/engine/testing.ts";
import { freePort } from "../harness/operator.ts";
import { REPO_ROOT, waitFor } from "./lib/index.ts";

const WORK = join(REPO_ROOT, ".cluster", "e2e-prometheus");
let prometheus: ChildProcess | undefined;
let sim: EngineSimulator;
let url: string;

beforeAll(async () => {
  mkdirSync(WORK, { recursive: true });
  const bin = execFileSync("bash", [join(REPO_ROOT, "test", "cluster", "build-prometheus.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  sim = await startEngineSimulator({
    argv: ["vllm", "serve", "/m", "--served-model-name", "m", "--data-parallel-size", "2", "--max-model-len", "8192"],
    host: "127.0.0.1",
    port: 0,
    loadSeconds: 0,
    maxNumSeqs: 1,
    tokensPerSecondPerSeq: 50,
    tickMs: 5,
  });
  await sim.ready;
  // The labels Prometheus' Kubernetes service discovery would give an engine pod of deployment "flash".
  const config = [
    "global:",
    "  scrape_interval: 1s",
    "scrape_configs:",
    "  - job_name: engines",
    "    static_configs:",
    `      - targets: ["${new URL(sim.url).host}"]`,
    "        labels: { namespace: team, pod: flash-5d8f7c9b4-x2x7q }",
  ].join("\n");
  writeFileSync(join(WORK, "prometheus.yml"), config);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    bin,
    [
      `--config.file=${join(WORK, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(WORK, `data-${process.pid}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: "ignore" },
  );
  await waitFor(async () => (await fetch(`${url}/-/ready`)).status === 200, {
    timeoutMs: 60_000,
    what: "Prometheus ready",
  });
}, 1_800_000);

afterAll(async () => {
  prometheus?.kill("SIGTERM");
  await sim?.close();
});

it("reads the deployment's queue, running requests, KV usage and token rate through the default queries", async () => {
  const q = queriesFor("vllm", "team", "flash", undefined);
  sim.setWedged(true);
  const reqs = Array.from({ length: 5 }, (_, i) =>
    postJson(`${sim.url}/v1/completions`, { model: "m", prompt: `p${i}`, max_tokens: 20 }),
  );
  // Two ranks with one running slot each: 2 running, 3 waiting, summed over the engine series.
  const busy = await waitFor(
    async () => {
      const t = await readPrometheus(url, q);
      return t.queueDepth === 3 && t.runningRequests === 2 ? t : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: "Prometheus to see 3 waiting and 2 running" },
  );
  expect(busy.kvCacheUsage).toBeGreaterThan(0);
  sim.setWedged(false);
  await Promise.all(reqs);
  // A scrape may land between the queue emptying and the last request finishing: wait for both.
  await waitFor(
    async () => {
      const t = await readPrometheus(url, q);
      return t.queueDepth === 0 && t.runningRequests === 0 && (t.tokensPerSecond ?? 0) > 0 ? t : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: "an empty queue, nothing running and a token rate" },
  );
}, 180_000);

it("a deployment Prometheus has no series for is missing metrics, not an idle deployment", async () => {
  await expect(readPrometheus(url, queriesFor("vllm", "team", "other", undefined))).rejects.toThrow(
    /Prometheus has no series for sum\(vllm:num_requests_waiting\{namespace="team",pod=~"other-\.\*"\}\)/,
  );
});
