import { describe, expect, it } from "@jest/globals";
import {
  HealthProbes,
  informersLive,
  informersSynced,
  leaderWorking,
  serveHealth,
  type HealthReporter,
} from "./health.ts";
import type { InformerHealth } from "./informer.ts";
import { OperatorMetrics, serveMetrics } from "./metrics.ts";

function reporter(name: string, h: Partial<InformerHealth>): HealthReporter & { h: InformerHealth } {
  const r = { name, h: { synced: true, downForMs: 0, restarts: 0, lastError: undefined, ...h }, health: () => r.h };
  return r;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe("HealthProbes (controller-runtime healthz semantics)", () => {
  it("readyz fails until every cache synced; healthz fails only when a stream is dead past the threshold", async () => {
    const dsds = reporter("deepseekdeployments", { synced: false });
    const pods = reporter("pods", {});
    const informers = () => [dsds, pods];
    const probes = new HealthProbes()
      .addHealthzCheck("informers", informersLive(informers, 300_000))
      .addReadyzCheck("caches", informersSynced(informers));
    const srv = await probes.serve({ host: "127.0.0.1", port: 0 });
    try {
      expect(await get(`${srv.url}/healthz`)).toEqual({ status: 200, body: "ok" });
      expect(await get(`${srv.url}/readyz`)).toEqual({
        status: 500,
        body: "[-]caches failed: reason withheld\nreadyz check failed\n",
      });
      expect(await get(`${srv.url}/readyz/caches`)).toEqual({
        status: 500,
        body: "internal server error: caches not synced: deepseekdeployments\n",
      });
      dsds.h.synced = true;
      expect(await get(`${srv.url}/readyz`)).toEqual({ status: 200, body: "ok" });
      expect(await get(`${srv.url}/readyz?verbose`)).toEqual({
        status: 200,
        body: "[+]caches ok\nreadyz check passed\n",
      });

      pods.h.downForMs = 200_000;
      expect((await get(`${srv.url}/healthz`)).status).toBe(200);
      pods.h.downForMs = 400_000;
      pods.h.lastError = "Forbidden";
      expect(await get(`${srv.url}/healthz`)).toEqual({
        status: 500,
        body: "[-]informers failed: reason withheld\nhealthz check failed\n",
      });
      expect((await get(`${srv.url}/healthz/informers`)).body).toMatch(/pods down for 400 s \(Forbidden\)/);
      expect(await get(`${srv.url}/healthz?exclude=informers&verbose`)).toEqual({
        status: 200,
        body: "[+]informers excluded: ok\nhealthz check passed\n",
      });
      expect((await get(`${srv.url}/nope`)).status).toBe(404);
      expect((await get(`${srv.url}/healthz/nope`)).status).toBe(404);
    } finally {
      await srv.close();
    }
  });

  it("with no checks registered both endpoints answer like a ping", async () => {
    const srv = await new HealthProbes().serve({ host: "127.0.0.1", port: 0 });
    try {
      expect(await get(`${srv.url}/readyz?verbose`)).toEqual({
        status: 200,
        body: "[+]ping ok\nreadyz check passed\n",
      });
    } finally {
      await srv.close();
    }
  });

  it("serveHealth wires boolean manager checks to both endpoints", async () => {
    let ready = false;
    const srv = await serveHealth({ host: "127.0.0.1", port: 0 }, { healthz: () => true, readyz: () => ready });
    try {
      expect((await get(`${srv.url}/readyz`)).status).toBe(500);
      ready = true;
      expect(await get(`${srv.url}/readyz`)).toEqual({ status: 200, body: "ok" });
      expect(await get(`${srv.url}/healthz?verbose`)).toEqual({
        status: 200,
        body: "[+]manager ok\nhealthz check passed\n",
      });
    } finally {
      await srv.close();
    }
  });

  it("a throwing check counts as failed", async () => {
    const probes = new HealthProbes().addHealthzCheck("boom", () => {
      throw new Error("kaput");
    });
    const srv = await probes.serve({ host: "127.0.0.1", port: 0 });
    try {
      expect((await get(`${srv.url}/healthz/boom`)).body).toBe("internal server error: kaput\n");
    } finally {
      await srv.close();
    }
  });
});

describe("serveMetrics", () => {
  it("serves the operator's own registry on /metrics, isolated from prom-client's global registry", async () => {
    const m = new OperatorMetrics();
    m.apiWrites.inc({ verb: "apply", kind: "Deployment" });
    m.leaderMasterStatus.set({ name: "dsd-operator" }, 1);
    const srv = await serveMetrics(m, { host: "127.0.0.1", port: 0 });
    try {
      const res = await fetch(`${srv.url}/metrics`);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const body = await res.text();
      expect(body).toContain('deepseek_operator_api_writes_total{verb="apply",kind="Deployment"} 1');
      expect(body).toContain('leader_election_master_status{name="dsd-operator"} 1');
      expect(body).toMatch(/^process_cpu_user_seconds_total \d/m);
      expect(body).toContain("# TYPE controller_runtime_reconcile_time_seconds histogram");
      expect((await get(`${srv.url}/other`)).status).toBe(404);
      // A second instance starts empty: nothing leaks between registries.
      expect(await new OperatorMetrics({ processMetrics: false }).scrape()).not.toContain("api_writes_total{");
    } finally {
      await srv.close();
    }
  });
});

describe("leaderWorking", () => {
  it("fails while this process leads and its controllers do not run, after the grace period; a follower passes", async () => {
    let t = 0;
    let leading = false;
    let working = false;
    const check = leaderWorking({ shouldWork: () => leading, working: () => working, graceMs: 60_000, now: () => t });
    expect(await check()).toBeUndefined(); // follower
    leading = true;
    expect(await check()).toBeUndefined(); // starting
    t = 59_000;
    expect(await check()).toBeUndefined();
    t = 61_000;
    expect(await check()).toMatch(/controllers have not been running for 61 s/);
    working = true;
    expect(await check()).toBeUndefined();
    working = false; // stopped while still leading: the grace starts again
    t = 70_000;
    expect(await check()).toBeUndefined();
    t = 131_000;
    expect(await check()).toMatch(/not been running/);
    const ready = leaderWorking({ shouldWork: () => true, working: () => false, graceMs: 0, now: () => t });
    expect(await ready()).toMatch(/not been running for 0 s/);
  });
});
