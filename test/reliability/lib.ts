// Shared setup of the fault suite: the CRD, a namespace for the operator and one for deployments, the
// operator's identity from the chart, and operator replicas that each talk to the apiserver through
// their own ApiProxy (an audit of each process's writes) and are restarted when they exit, as the
// kubelet restarts a pod's container.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { ApiProxy } from "../harness/apiproxy.ts";
import {
  installOperatorIdentity,
  startOperator,
  waitUntilCreatable,
  type OperatorProcess,
} from "../harness/operator.ts";
import {
  installCrd,
  createTestNamespace,
  kubectlJson,
  loadKubeConfig,
  REPO_ROOT,
  waitFor,
  type TestNamespace,
} from "../e2e/lib/index.ts";

export const GROUP = { group: "serving.deepseek-operator.io", version: "v1alpha1", plural: "deepseekdeployments" };
const REVISION = "0123456789abcdef0123456789abcdef01234567";

export interface Env {
  kc: KubeConfig;
  api: CustomObjectsApi;
  system: TestNamespace;
  ns: TestNamespace;
  identity: string;
  work: string;
}

export async function setUp(name: string): Promise<Env> {
  const work = join(REPO_ROOT, ".cluster", `reliability-${name}`);
  mkdirSync(work, { recursive: true });
  const kc = loadKubeConfig();
  await installCrd();
  const system = await createTestNamespace(`rel-${name}-system`, kc);
  const ns = await createTestNamespace(`rel-${name}`, kc);
  const identity = await installOperatorIdentity(system.name, work, [ns.name]);
  await waitUntilCreatable(ns.name);
  return { kc, api: kc.makeApiClient(CustomObjectsApi), system, ns, identity, work };
}

/** A deployment whose weights come from a Hub nobody serves: the operator's own work is what is tested. */
export function dsdManifest(env: Env, name: string): object {
  return {
    apiVersion: "serving.deepseek-operator.io/v1alpha1",
    kind: "DeepSeekDeployment",
    metadata: { name, namespace: env.ns.name },
    spec: {
      model: { revision: REVISION, source: { huggingFace: { endpoint: "http://127.0.0.1:9" } } },
      gpu: { type: "H200" },
      replicas: 1,
    },
  };
}

export async function createDsds(env: Env, names: string[]): Promise<void> {
  await Promise.all(
    names.map((n) =>
      env.api.createNamespacedCustomObject({ ...GROUP, namespace: env.ns.name, body: dsdManifest(env, n) }),
    ),
  );
}

export async function leaseHolder(env: Env): Promise<string | undefined> {
  const r = await kubectlJson<{ items: { spec: { holderIdentity?: string } }[] }>([
    "-n",
    env.system.name,
    "get",
    "leases",
    "--field-selector",
    "metadata.name=deepseek-operator",
  ]).catch(() => ({ items: [] }));
  return r.items[0]?.spec.holderIdentity;
}

/**
 * One operator replica behind its own proxy; replaced after it exits unless stopped, by a process with a
 * new identity (as a ReplicaSet replaces a pod: a process that came back under the old name would find
 * itself the lease's holder and take it back at once). With `sameIdentity` it comes back at once under
 * its own name instead, as the kubelet restarts a killed container inside the same pod.
 */
export class Replica {
  readonly proxy = new ApiProxy();
  readonly exits: Array<{ at: number; code: number | null }> = [];
  proc: OperatorProcess | undefined;
  #stopped = false;
  #generation = 0;
  #restarts: Promise<void> = Promise.resolve();

  readonly env: Env;
  readonly name: string;
  readonly restart: boolean;
  readonly sameIdentity: boolean;

  constructor(env: Env, name: string, restart = true, opts: { sameIdentity?: boolean } = {}) {
    this.env = env;
    this.name = name;
    this.restart = restart;
    this.sameIdentity = opts.sameIdentity ?? false;
  }

  async start(): Promise<this> {
    await this.proxy.start();
    await this.#spawn();
    return this;
  }

  /** The current process's identity (its pod name): the name, then name-1, name-2, … for replacements. */
  get identity(): string {
    return this.#generation === 0 ? this.name : `${this.name}-${this.#generation}`;
  }

  async #spawn(): Promise<void> {
    const kubeconfig = this.proxy.writeKubeconfig(this.env.identity, join(this.env.work, `${this.name}.kubeconfig`));
    const proc = await startOperator({
      name: this.identity,
      shipped: true,
      kubeconfig,
      leaseNamespace: this.env.system.name,
      workDir: this.env.work,
      namespaces: [this.env.ns.name],
    });
    this.proc = proc;
    proc.proc.once("exit", (code) => {
      this.exits.push({ at: Date.now(), code });
      if (this.#stopped || !this.restart) return;
      this.#restarts = new Promise((r) => setTimeout(r, this.sameIdentity ? 0 : 1000)).then(() => {
        if (this.#stopped) return;
        if (!this.sameIdentity) this.#generation++;
        return this.#spawn();
      });
    });
  }

  /** Stop for good (no restart). */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    this.#stopped = true;
    await this.#restarts;
    await this.proc?.stop(signal);
    await this.proxy.stop();
  }

  running(): boolean {
    return !!this.proc && this.proc.proc.exitCode === null && this.proc.proc.signalCode === null;
  }
}

type Item = { metadata: { name: string; uid: string; ownerReferences?: { uid: string }[] } };

/**
 * Every deployment reconciled at its generation, with exactly the children it should have: one
 * Service each, one shared weights PVC and one pull Job for all of them, nothing else.
 */
export async function converged(env: Env, names: string[]): Promise<void> {
  await waitFor(
    async () => {
      const dsds = await kubectlJson<{
        items: (Item & { metadata: { generation: number }; status?: { observedGeneration?: number } })[];
      }>(["-n", env.ns.name, "get", "dsd"]);
      const done = dsds.items.filter((d) => d.status?.observedGeneration === d.metadata.generation);
      return done.length === names.length;
    },
    { timeoutMs: 180_000, intervalMs: 1000, what: `${names.length} deployments reconciled` },
  );
  const get = (kind: string) =>
    kubectlJson<{ items: Item[] }>([
      "-n",
      env.ns.name,
      "get",
      kind,
      "-l",
      "app.kubernetes.io/part-of=deepseek-operator",
    ]);
  await waitFor(async () => (await get("services")).items.length === names.length, {
    timeoutMs: 60_000,
    what: "one Service per deployment",
  });
  const dsds = await kubectlJson<{ items: Item[] }>(["-n", env.ns.name, "get", "dsd"]);
  const services = (await get("services")).items;
  for (const d of dsds.items) {
    const owned = services.filter((s) => s.metadata.ownerReferences?.some((r) => r.uid === d.metadata.uid));
    if (owned.length !== 1) throw new Error(`${d.metadata.name} owns ${owned.length} Services`);
  }
  const pvcs = (await get("pvc")).items;
  const jobs = (await get("jobs")).items;
  if (pvcs.length !== 1 || jobs.length !== 1)
    throw new Error(`expected one weights PVC and one pull Job, found ${pvcs.length} and ${jobs.length}`);
}
