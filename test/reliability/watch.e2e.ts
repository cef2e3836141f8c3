// Watches that fail quietly: a stream that stays open and says nothing, and one that answers 410 Gone
// (its resourceVersion compacted away). The operator must notice on its own, relist where it has to, and
// reconcile what changed meanwhile.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { waitFor } from "../e2e/lib/index.ts";
import type { ProxiedRequest } from "../harness/apiproxy.ts";
import { converged, createDsds, leaseHolder, Replica, setUp, type Env } from "./lib.ts";

let env: Env;
let op: Replica;
const dsdWatch = (r: ProxiedRequest) => r.watch && r.path.endsWith("/deepseekdeployments");
const dsdList = (r: ProxiedRequest) => !r.watch && r.method === "GET" && r.path.endsWith("/deepseekdeployments");

beforeAll(async () => {
  env = await setUp("watch");
  op = await new Replica(env, "op-a").start();
  await waitFor(async () => (await leaseHolder(env)) === "op-a", { timeoutMs: 60_000, what: "op-a leads" });
  await createDsds(env, ["first"]);
  await converged(env, ["first"]);
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await env?.ns.delete();
  await env?.system.delete();
}, 120_000);

describe("watches that fail quietly", () => {
  it("asks for bookmarks on every watch", () => {
    const watches = op.proxy.requests.filter((r) => r.watch);
    expect(watches.length).toBeGreaterThan(0);
    expect(watches.every((r) => r.query.get("allowWatchBookmarks") === "true")).toBe(true);
  });

  it("a watch that goes silent is replaced, and what changed meanwhile is reconciled", async () => {
    const t0 = Date.now();
    expect(op.proxy.silenceWatches(dsdWatch)).toBeGreaterThanOrEqual(1);
    await createDsds(env, ["during-silence"]);
    await converged(env, ["first", "during-silence"]);
    const rewatch = op.proxy.requests.find((r) => dsdWatch(r) && r.at > t0);
    expect(rewatch).toBeDefined();
    process.stderr.write(`silent watch replaced after ${rewatch!.at - t0} ms\n`);
  }, 180_000);

  it("a watch answered with 410 Gone relists and catches up", async () => {
    let gone = 0;
    op.proxy.fault = (r) => (dsdWatch(r) && gone++ === 0 ? "gone" : "pass");
    const t0 = Date.now();
    expect(op.proxy.endWatches(dsdWatch)).toBeGreaterThanOrEqual(1);
    await createDsds(env, ["during-gone"]);
    await converged(env, ["first", "during-silence", "during-gone"]);
    expect(gone).toBeGreaterThan(0);
    const relist = op.proxy.requests.find((r) => dsdList(r) && r.at > t0);
    expect(relist).toBeDefined();
    expect(relist!.query.get("resourceVersion")).toBeNull();
    expect(relist!.query.get("limit")).toBe("500");
    process.stderr.write(`relisted ${relist!.at - t0} ms after the 410\n`);
  }, 180_000);
});
