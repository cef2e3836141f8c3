// Leader election under faults, on the real control plane: a leader whose controllers cannot start,
// probes that tell whether the leader's controllers run, a leader SIGKILLed with two replicas, and a
// leader frozen (SIGSTOP) while it reconciles, which must write nothing once its successor has written.
// Every replica talks to the apiserver through its own proxy, which records each request it passes on:
// that record, not the operator's own account, is what the assertions read.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { waitFor } from "../e2e/lib/index.ts";
import { converged, createDsds, leaseHolder, Replica, setUp, type Env } from "./lib.ts";

let env: Env;
const replicas: Replica[] = [];
const replica = async (name: string, opts: { restart?: boolean; fault?: Replica["proxy"]["fault"] } = {}) => {
  const r = new Replica(env, name, opts.restart ?? true);
  if (opts.fault) r.proxy.fault = opts.fault;
  replicas.push(r);
  return r.start();
};
const probe = async (r: Replica, path: string) => {
  const res = await fetch(`http://127.0.0.1:${r.proc!.healthPort}${path}`);
  return { code: res.status, body: await res.text() };
};
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const firstWrite = (r: Replica, since: number) => r.proxy.writes({ since })[0]?.at;

beforeAll(async () => {
  env = await setUp("leader");
}, 180_000);

afterAll(async () => {
  for (const r of replicas) await r.stop();
  await env?.ns.delete();
  await env?.system.delete();
}, 120_000);

describe("leader election under faults", () => {
  it("a leader whose controllers cannot start gives up the lease at once and exits", async () => {
    // API discovery fails: the LeaderWorkerSet probe answers 500 (not the 404 of a missing CRD).
    const broken = await replica("op-broken", {
      restart: false,
      fault: (r) =>
        r.path.startsWith("/apis/leaderworkerset.x-k8s.io/") ? { status: 500, reason: "InternalError" } : "pass",
    });
    await waitFor(() => broken.exits.length > 0, { timeoutMs: 60_000, what: "op-broken exits" });
    expect(broken.exits[0]!.code).toBe(1);
    const leaseWrites = broken.proxy.writes({ leases: true }).filter((w) => w.path.includes("/leases"));
    expect(leaseWrites.length).toBeGreaterThanOrEqual(2); // acquired, then released
    expect((await leaseHolder(env)) ?? "").toBe("");
    expect(broken.proxy.writes()).toEqual([]); // and nothing else
  }, 120_000);

  it("/readyz fails while the leader's caches cannot sync and passes once its controllers run", async () => {
    const nodesList = (r: { method: string; path: string; watch: boolean }) =>
      r.method === "GET" && r.path === "/api/v1/nodes" && !r.watch;
    const a = await replica("op-a", { fault: (r) => (nodesList(r) ? "hang" : "pass") });
    await waitFor(async () => (await leaseHolder(env)) === "op-a", { timeoutMs: 60_000, what: "op-a leads" });
    await waitFor(() => a.proxy.requests.some(nodesList), { timeoutMs: 30_000, what: "the node list sent" });
    expect((await probe(a, "/readyz/controllers")).code).toBe(500);
    expect((await probe(a, "/healthz")).code).toBe(200); // still within the start's grace
    a.proxy.fault = () => "pass";
    a.proxy.releaseHeld();
    await waitFor(async () => (await probe(a, "/readyz")).code === 200, { timeoutMs: 60_000, what: "op-a ready" });
    expect((await probe(a, "/readyz/controllers")).code).toBe(200);
    await replica("op-b");
    await createDsds(env, names("base", 3));
    await converged(env, names("base", 3));
  }, 180_000);

  it("the leader SIGKILLed with two replicas: the other takes over and reconciles", async () => {
    const [a, b] = [replicas[1]!, replicas[2]!];
    expect(await leaseHolder(env)).toBe("op-a");
    await a.proc!.stop("SIGKILL"); // replaced a second later, as a follower
    const killedAt = Date.now();
    await createDsds(env, ["after-kill"]);
    await waitFor(async () => (await leaseHolder(env)) === "op-b", {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: "op-b takes the lease",
    });
    const takeover = Date.now() - killedAt;
    const firstWriteAt = await waitFor(() => firstWrite(b, killedAt), {
      timeoutMs: 60_000,
      what: "op-b's first write",
    });
    // Measured, not asserted (timings belong in bench/): about the 15 s lease plus up to one 2 s retry.
    process.stderr.write(
      `failover: lease taken ${takeover} ms after SIGKILL; first write ${firstWriteAt - killedAt} ms\n`,
    );
    await converged(env, [...names("base", 3), "after-kill"]);
  }, 180_000);

  it("a leader frozen mid-reconcile writes nothing after its successor's first write, and exits on resume", async () => {
    const [a, b] = [replicas[1]!, replicas[2]!];
    expect(await leaseHolder(env)).toBe("op-b");
    await waitFor(() => a.running(), { timeoutMs: 30_000, what: "op-a replaced" });
    const burst = names("burst", 12);
    const t0 = Date.now();
    await createDsds(env, burst);
    // Freeze op-b while its reconciles of the burst are in flight.
    await waitFor(() => firstWrite(b, t0), { timeoutMs: 30_000, intervalMs: 20, what: "op-b writing the burst" });
    const pid = b.proc!.proc.pid!;
    process.kill(pid, "SIGSTOP");
    const stoppedAt = Date.now();
    const exitsBefore = b.exits.length;
    try {
      await waitFor(async () => (await leaseHolder(env)) === a.identity, {
        timeoutMs: 60_000,
        what: "op-a takes over",
      });
      const successorFirst = await waitFor(() => firstWrite(a, stoppedAt), { timeoutMs: 60_000, what: "op-a writes" });
      // Let op-a work a while before op-b wakes with every timer due at once.
      await new Promise((r) => setTimeout(r, 2000));
      const resumedAt = Date.now();
      process.kill(pid, "SIGCONT");
      await waitFor(() => b.exits.length > exitsBefore, { timeoutMs: 30_000, intervalMs: 50, what: "op-b exits" });
      const exit = b.exits[exitsBefore]!;
      process.stderr.write(`frozen leader exited ${exit.at - resumedAt} ms after resuming\n`);
      expect(exit.code).toBe(1);
      const late = b.proxy.writes({ since: successorFirst }).filter((w) => w.at <= exit.at);
      expect(late.map((w) => `${w.method} ${w.path}`)).toEqual([]);
    } finally {
      if (b.proc?.proc.pid === pid && b.running()) process.kill(pid, "SIGCONT");
    }
    await converged(env, [...names("base", 3), "after-kill", ...burst]);
  }, 240_000);
});
