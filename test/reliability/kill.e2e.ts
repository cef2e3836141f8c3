// The operator SIGKILLed at random points of its reconciles, 20 times: each trial fires a burst of
// creates, spec updates and deletes of DeepSeekDeployments, kills the operator after a seeded random
// delay (so the kill lands before, during or after the burst's reconciles), lets the kubelet-style
// restart bring it straight back, and checks that the namespace converged: exactly the deployments
// that exist, each reconciled at its generation with exactly its children, no child without a live
// owner, no deployment stuck on its finalizer, and one shared weights PVC and pull Job.
// DSO_FAULT_SEED replays a run's delays and choices.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { kubectlJson, kubectlOk, waitFor } from "../e2e/lib/index.ts";
import { GROUP, dsdManifest, leaseHolder, Replica, setUp, type Env } from "./lib.ts";
import { seededRandom } from "../../operator/src/util/random.ts";

const TRIALS = 20;
const SEED = Number(process.env.DSO_FAULT_SEED ?? 14);

let env: Env;
let op: Replica;

type Obj = {
  metadata: {
    name: string;
    uid: string;
    generation?: number;
    deletionTimestamp?: string;
    finalizers?: string[];
    ownerReferences?: { uid: string; kind: string }[];
  };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    phase?: string;
    conditions?: { type: string; observedGeneration?: number }[];
  };
};
const list = async (kind: string, selector?: string) =>
  (await kubectlJson<{ items: Obj[] }>(["-n", env.ns.name, "get", kind, ...(selector ? ["-l", selector] : [])])).items;
const PART_OF = "app.kubernetes.io/part-of=deepseek-operator";

/** Why the namespace has not converged to exactly `alive`, or undefined once it has. */
async function divergence(alive: Set<string>): Promise<string | undefined> {
  const dsds = await list("dsd");
  const names = dsds.map((d) => d.metadata.name).sort();
  if (names.join() !== [...alive].sort().join()) return `deployments ${names.join()} != ${[...alive].sort().join()}`;
  for (const d of dsds) {
    if (d.metadata.deletionTimestamp) return `${d.metadata.name} is being deleted`;
    if (d.status?.observedGeneration !== d.metadata.generation)
      return `${d.metadata.name} observed ${d.status?.observedGeneration} of ${d.metadata.generation}`;
    if (!d.status?.phase) return `${d.metadata.name} has no phase`;
    const stale = (d.status.conditions ?? []).filter(
      (c) => c.observedGeneration !== undefined && c.observedGeneration !== d.metadata.generation,
    );
    if (stale.length) return `${d.metadata.name}: conditions ${stale.map((c) => c.type).join()} stale`;
  }
  const uids = new Set(dsds.map((d) => d.metadata.uid));
  const services = await list("services", PART_OF);
  for (const s of services) {
    const owners = (s.metadata.ownerReferences ?? []).filter((r) => r.kind === "DeepSeekDeployment");
    if (owners.length !== 1 || !uids.has(owners[0]!.uid)) return `Service ${s.metadata.name} has no live owner`;
  }
  for (const d of dsds) {
    const owned = services.filter((s) => s.metadata.ownerReferences?.some((r) => r.uid === d.metadata.uid));
    if (owned.length !== 1) return `${d.metadata.name} owns ${owned.length} Services`;
  }
  const [pvcs, jobs] = [await list("pvc", PART_OF), await list("jobs", PART_OF)];
  if (pvcs.length !== 1 || jobs.length !== 1) return `${pvcs.length} weights PVCs and ${jobs.length} pull Jobs`;
  return undefined;
}

beforeAll(async () => {
  env = await setUp("kill");
  op = await new Replica(env, "op", true, { sameIdentity: true }).start();
  await waitFor(async () => (await leaseHolder(env)) === "op", { timeoutMs: 60_000, what: "op leads" });
}, 180_000);

afterAll(async () => {
  // Deleted while the operator runs, so their finalizers come off and the namespace can go.
  await kubectlOk(["-n", env.ns.name, "delete", "dsd", "--all", "--wait=true", "--timeout=90s"]).catch(() => undefined);
  await op?.stop();
  // No local runner here: the pull Jobs' pods (labelled for it) would never finish terminating.
  await kubectlOk(["-n", env.ns.name, "delete", "pods", "--all", "--force", "--grace-period=0"]).catch(() => undefined);
  await env?.ns.delete();
  await env?.system.delete();
  // Some 40 deployments go with their finalizers, then two namespaces: more than a default hook's time.
}, 300_000);

describe("the operator SIGKILLed at random points of its reconciles", () => {
  it(`${TRIALS} trials (seed ${SEED}): each converges with nothing orphaned, duplicated or stuck`, async () => {
    const random = seededRandom(SEED);
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    const alive = new Set<string>();
    let next = 0;
    const figures: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const ops: Array<() => Promise<unknown>> = [];
      const old = [...alive];
      for (let i = 0; i < 3; i++) {
        const name = `kill-${next++}`;
        alive.add(name);
        ops.push(() =>
          env.api.createNamespacedCustomObject({ ...GROUP, namespace: env.ns.name, body: dsdManifest(env, name) }),
        );
      }
      for (let i = 0; i < 2 && old.length > 1; i++) {
        const name = old.splice(Math.floor(random() * old.length), 1)[0]!;
        const replicas = 1 + Math.floor(random() * 3);
        ops.push(() =>
          kubectlOk([
            "-n",
            env.ns.name,
            "patch",
            "dsd",
            name,
            "--type=merge",
            "-p",
            JSON.stringify({ spec: { replicas } }),
          ]),
        );
      }
      if (old.length > 3) {
        const name = pick(old);
        alive.delete(name);
        ops.push(() => env.api.deleteNamespacedCustomObject({ ...GROUP, namespace: env.ns.name, name }));
      }
      const delayMs = Math.floor(random() * 1500);
      const exitsBefore = op.exits.length;
      const burstAt = Date.now();
      // Operations and kill race: the kill lands after `delayMs` whatever the burst has reached.
      const burst = Promise.all(ops.map((f) => f()));
      await new Promise((r) => setTimeout(r, delayMs));
      const writesBeforeKill = op.proxy.writes({ since: burstAt }).length;
      await op.proc!.stop("SIGKILL");
      const killedAt = Date.now();
      await burst;
      await waitFor(() => op.exits.length > exitsBefore && op.running(), {
        timeoutMs: 30_000,
        intervalMs: 20,
        what: "op restarted",
      });
      let last: string | undefined;
      await waitFor(
        async () => {
          last = await divergence(alive);
          return last === undefined;
        },
        { timeoutMs: 120_000, intervalMs: 500, what: `trial ${trial} converged (last: ${String(last)})` },
      ).catch((e: unknown) => {
        throw new Error(`trial ${trial} (seed ${SEED}, kill after ${delayMs} ms): ${String(last)}`, { cause: e });
      });
      figures.push(
        `trial ${trial}: ${ops.length} ops, killed after ${delayMs} ms (${writesBeforeKill} writes in), converged ${Date.now() - killedAt} ms after kill`,
      );
    }
    process.stderr.write(
      `operator SIGKILL: ${TRIALS} kills injected, ${alive.size} deployments live, seed ${SEED}\n${figures.join("\n")}\n`,
    );
    expect(op.exits.length).toBe(TRIALS);
    expect(await divergence(alive)).toBeUndefined();
  }, 600_000);
});
