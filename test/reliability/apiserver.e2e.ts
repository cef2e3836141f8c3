// The control plane failing under the operator: kube-apiserver restarted while it reconciles, etcd frozen
// for a while. The operator (two replicas, restarted when they exit, as a Deployment's pods are) must
// recover on its own and converge: every deployment reconciled, nothing orphaned or duplicated.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { waitFor } from "../e2e/lib/index.ts";
import { freezeComponent, restartComponent, waitApiserverReady } from "../harness/controlplane.ts";
import { waitUntilCreatable } from "../harness/operator.ts";
import { converged, createDsds, leaseHolder, Replica, setUp, type Env } from "./lib.ts";

let env: Env;
const replicas: Replica[] = [];
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

beforeAll(async () => {
  env = await setUp("apiserver");
  for (const name of ["op-a", "op-b"]) replicas.push(await new Replica(env, name).start());
  await waitFor(async () => !!(await leaseHolder(env)), { timeoutMs: 60_000, what: "a leader" });
}, 180_000);

afterAll(async () => {
  for (const r of replicas) await r.stop();
  await env?.ns.delete();
  await env?.system.delete();
}, 120_000);

describe("the control plane failing under the operator", () => {
  it("kube-apiserver restarted during reconciles: the operator recovers and converges, nothing duplicated", async () => {
    const batch = names("restart", 15);
    const t0 = Date.now();
    await createDsds(env, batch);
    await waitFor(() => replicas.some((r) => r.proxy.writes({ since: t0 }).length > 0), {
      timeoutMs: 30_000,
      intervalMs: 20,
      what: "the leader reconciling",
    });
    const downMs = await restartComponent("kube-apiserver");
    const back = Date.now();
    await converged(env, batch);
    const exits = replicas.flatMap((r) => r.exits.map((e) => `${r.name}:${e.code}`));
    process.stderr.write(
      `apiserver restart: down ${downMs} ms; converged ${Date.now() - back} ms after it was back; operator exits ${JSON.stringify(exits)}\n`,
    );
    expect(await leaseHolder(env)).toMatch(/^op-[ab](-\d+)?$/);
  }, 300_000);

  it("etcd frozen for 8 s during reconciles: the operator recovers and converges", async () => {
    // A restarted apiserver's finalizer policy learns the CRD's schema again some seconds after it is ready.
    await waitUntilCreatable(env.ns.name);
    const batch = names("etcd", 10);
    const t0 = Date.now();
    await createDsds(env, batch);
    await waitFor(() => replicas.some((r) => r.proxy.writes({ since: t0 }).length > 0), {
      timeoutMs: 30_000,
      intervalMs: 20,
      what: "the leader reconciling",
    });
    await freezeComponent("etcd", 8_000);
    await waitApiserverReady();
    await converged(env, [...names("restart", 15), ...batch]);
  }, 300_000);
});
