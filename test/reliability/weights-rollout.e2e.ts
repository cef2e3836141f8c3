// Faults around the shared weights and rollouts, on the real control plane: the operator runs as a
// child process under its chart's RBAC, the real downloader runs (as a local process, through the
// harness's local runner) against Hub simulators on 127.0.0.1, and KWOK plays the GPU nodes and
// engine pods. Each test ends converged: the deployments it made are gone and nothing they owned is
// left behind, except retained weights.
import { closeSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { startHubServer, type HubServer } from "../../operator/src/sim/hub/server.ts";
import { v4FlashShapedRepo, V4_FLASH_REVISION } from "../../operator/src/sim/hub/repo.ts";
import { LocalPodRunner } from "../harness/local-runner.ts";
import {
  installOperatorIdentity,
  startOperator,
  waitUntilCreatable,
  type OperatorProcess,
} from "../harness/operator.ts";
import {
  installCrd,
  createTestNamespace,
  kubectl,
  kubectlJson,
  kubectlOk,
  loadKubeConfig,
  REPO_ROOT,
  run,
  waitFor,
  type TestNamespace,
} from "../e2e/lib/index.ts";

const WORK = join(REPO_ROOT, ".cluster", "reliability-weights");
const GROUP = { group: "serving.deepseek-operator.io", version: "v1alpha1", plural: "deepseekdeployments" };
const MODEL = "deepseek-ai/DeepSeek-V4-Flash";
/** A later commit of the same model, served by the second Hub. */
const REVISION_B = "b".repeat(40);
const SHARD = 64 * 1024;
const INSTANCE = "app.kubernetes.io/instance";

type Cond = { type: string; status: string; reason: string; message: string };
type Dsd = {
  metadata: { name: string; uid: string; generation: number };
  spec: Record<string, any>;
  status?: Record<string, any> & { conditions?: Cond[] };
};
type Meta = {
  name: string;
  uid: string;
  ownerReferences?: { name: string; uid: string }[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  deletionTimestamp?: string;
};

let kc: KubeConfig;
let api: CustomObjectsApi;
let system: TestNamespace;
let ns: TestNamespace;
let hubA: HubServer;
let hubB: HubServer;
let runner: LocalPodRunner;
let operator: OperatorProcess;

const cond = (d: Dsd, type: string) => d.status?.conditions?.find((c) => c.type === type);
const getDsd = async (name: string) =>
  (await api.getNamespacedCustomObject({ ...GROUP, namespace: ns.name, name })) as Dsd;
const list = <T = { metadata: Meta; spec?: any; status?: any }>(kind: string, selector?: string) =>
  kubectlJson<{ items: T[] }>(["-n", ns.name, "get", kind, ...(selector ? ["-l", selector] : [])]).then((r) => r.items);

function manifest(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "serving.deepseek-operator.io/v1alpha1",
    kind: "DeepSeekDeployment",
    metadata: { name, namespace: ns.name },
    spec: {
      model: { name: MODEL, revision: V4_FLASH_REVISION, source: { huggingFace: { endpoint: hubA.url } } },
      gpu: { type: "H200" },
      replicas: 1,
      ...spec,
    },
  };
}

const create = (name: string, spec: Record<string, unknown> = {}) =>
  api.createNamespacedCustomObject({ ...GROUP, namespace: ns.name, body: manifest(name, spec) });

async function waitForDsd(name: string, what: string, ok: (d: Dsd) => boolean, timeoutMs = 180_000): Promise<Dsd> {
  return waitFor(
    async () => {
      const d = await getDsd(name);
      return ok(d) ? d : undefined;
    },
    { timeoutMs, intervalMs: 500, what: `${name}: ${what}` },
  );
}

const serving = (d: Dsd) =>
  d.status?.phase === "Serving" &&
  d.status.readyReplicas >= 1 &&
  d.status.observedGeneration === d.metadata.generation &&
  d.status.updatedReplicas === d.spec.replicas;

async function events(name: string): Promise<string> {
  return kubectlOk([
    "-n",
    ns.name,
    "get",
    "events.events.k8s.io",
    "--field-selector",
    `regarding.name=${name}`,
    "-o",
    "custom-columns=T:.type,R:.reason,N:.note",
    "--no-headers",
  ]);
}

/** Deletes deployments and waits until their engines, Services and their own Jobs are gone. */
async function remove(...names: string[]): Promise<void> {
  await kubectlOk(["-n", ns.name, "delete", "dsd", ...names, "--wait=true", "--timeout=120s"]);
  for (const name of names)
    await waitFor(
      async () => {
        const left = await Promise.all(
          ["deployments", "services", "poddisruptionbudgets", "jobs"].map((k) => list(k, `${INSTANCE}=${name}`)),
        );
        return left.every((l) => l.length === 0);
      },
      { timeoutMs: 120_000, what: `${name}'s children garbage-collected` },
    );
}

beforeAll(async () => {
  mkdirSync(WORK, { recursive: true });
  kc = loadKubeConfig();
  api = kc.makeApiClient(CustomObjectsApi);
  await installCrd();
  system = await createTestNamespace("rel-weights-system", kc);
  ns = await createTestNamespace("rel-weights", kc);
  const kubeconfig = await installOperatorIdentity(system.name, WORK, [ns.name]);
  await waitUntilCreatable(ns.name);
  hubA = await startHubServer({ repos: [v4FlashShapedRepo({ shardSize: SHARD })], host: "127.0.0.1", port: 0 });
  hubB = await startHubServer({
    repos: [v4FlashShapedRepo({ shardSize: SHARD, revision: REVISION_B })],
    host: "127.0.0.1",
    port: 0,
  });
  runner = new LocalPodRunner({ admin: kc, workDir: join(WORK, "pods") });
  runner.start();
  operator = await startOperator({
    name: "op",
    shipped: true,
    kubeconfig,
    leaseNamespace: system.name,
    workDir: WORK,
    namespaces: [ns.name],
  });
}, 300_000);

afterAll(async () => {
  await operator?.stop();
  await runner?.stop();
  await hubA?.close();
  await hubB?.close();
  await ns?.delete();
  await system?.delete();
}, 120_000);

describe("weights and rollouts under faults", () => {
  it("a revision change: the old replicas serve, and are counted, until the new ones are ready; then the old revision's PVC is let go and kept", async () => {
    await create("roll");
    const before = await waitForDsd("roll", "Serving", serving);
    const oldPvc = before.status!.weights.pvcName as string;
    // The new revision downloads slowly, so there is time to watch the old replicas.
    hubB.setFault({ kind: "rate", bytesPerSecond: 16 * 1024 });
    await kubectlOk([
      "-n",
      ns.name,
      "patch",
      "dsd",
      "roll",
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { model: { revision: REVISION_B, source: { huggingFace: { endpoint: hubB.url } } } } }),
    ]);
    const seen = { minReady: Infinity, minReplicas: Infinity, phases: new Set<string>(), samples: 0 };
    const after = await waitForDsd(
      "roll",
      "Serving the new revision",
      (d) => {
        const s = d.status ?? {};
        if (d.status?.observedGeneration === d.metadata.generation && cond(d, "WeightsReady")?.status !== "True") {
          seen.samples++;
          seen.minReady = Math.min(seen.minReady, s.readyReplicas ?? 0);
          seen.minReplicas = Math.min(seen.minReplicas, s.replicas ?? 0);
          seen.phases.add(s.phase);
        }
        return cond(d, "WeightsReady")?.status === "True" && serving(d) && s.weights?.pvcName !== oldPvc;
      },
      240_000,
    );
    hubB.clearFaults();
    expect(seen.samples).toBeGreaterThan(0);
    // While the new weights downloaded, status (and so the scale subresource an HPA reads) kept the
    // old replicas: not 0.
    expect(seen.minReady).toBeGreaterThanOrEqual(1);
    expect(seen.minReplicas).toBeGreaterThanOrEqual(1);
    expect([...seen.phases]).toEqual(["Serving"]);
    const deploy = await kubectlJson<any>(["-n", ns.name, "get", "deployment", "roll"]);
    expect(deploy.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe(after.status!.weights.pvcName);
    // The old revision's PVC: this deployment's name comes off it once the rollout is done; under
    // Retain (the default) it stays, so a later deployment of that revision finds it.
    const released = await waitFor(
      async () => {
        const p = await kubectlJson<{ metadata: Meta }>(["-n", ns.name, "get", "pvc", oldPvc]);
        return (p.metadata.ownerReferences ?? []).length === 0 ? p : undefined;
      },
      { timeoutMs: 120_000, what: `${oldPvc} released` },
    );
    expect(released.metadata.deletionTimestamp).toBeUndefined();
    expect(await events("roll")).toMatch(/WeightsReleased/);
    await remove("roll");
    // The old PVC outlives the deployment that left it (the garbage collector would have taken it).
    expect((await kubectlJson<{ metadata: Meta }>(["-n", ns.name, "get", "pvc", oldPvc])).metadata.uid).toBe(
      released.metadata.uid,
    );
  }, 600_000);

  it("a deployment deleted and recreated for the same model reuses the retained PVC: zero bytes downloaded", async () => {
    await create("again");
    const first = await waitForDsd("again", "WeightsReady", (d) => cond(d, "WeightsReady")?.status === "True");
    const pvc = first.status!.weights.pvcName as string;
    await remove("again");
    const bytes = hubA.bytesServed();
    const jobsBefore = await list("jobs");
    await create("again");
    const second = await waitForDsd("again", "Serving", serving);
    expect(second.status!.weights.pvcName).toBe(pvc);
    expect(hubA.bytesServed()).toBe(bytes);
    expect((await list("jobs")).map((j) => j.metadata.uid)).toEqual(jobsBefore.map((j) => j.metadata.uid));
    await remove("again");
  }, 600_000);

  it("two deployments share weights with different specs: the first shapes the PVC, the second is told and still serves", async () => {
    await create("shape-a");
    const a = await waitForDsd("shape-a", "Serving", serving);
    const pvcName = a.status!.weights.pvcName as string;
    const pvcBefore = await kubectlJson<{ metadata: Meta; spec: any }>(["-n", ns.name, "get", "pvc", pvcName]);
    // Another access mode, and a size the apiserver would refuse as a shrink (the default is 164Gi).
    await create("shape-b", { weights: { accessMode: "ReadWriteOnce", size: "160Gi" } });
    const b = await waitForDsd(
      "shape-b",
      "Serving with WeightsStorage False",
      (d) => serving(d) && cond(d, "WeightsStorage")?.status === "False",
    );
    expect(b.status!.weights.pvcName).toBe(pvcName);
    expect(cond(b, "WeightsStorage")).toMatchObject({ reason: "SharedShapeDiffers" });
    expect(cond(b, "WeightsStorage")!.message).toMatch(/access mode ReadWriteMany \(asked: ReadWriteOnce\)/);
    expect(cond(b, "Synced")?.status).toBe("True");
    expect(cond(await getDsd("shape-a"), "WeightsStorage")?.status).toBe("True");
    const pvcAfter = await kubectlJson<{ metadata: Meta; spec: any }>(["-n", ns.name, "get", "pvc", pvcName]);
    expect(pvcAfter.spec.accessModes).toEqual(pvcBefore.spec.accessModes);
    expect(pvcAfter.spec.resources.requests.storage).toBe(pvcBefore.spec.resources.requests.storage);
    expect((pvcAfter.metadata.ownerReferences ?? []).map((r) => r.name).sort()).toEqual(["shape-a", "shape-b"]);
    expect(await events("shape-b")).toMatch(/Warning\s+SharedShapeDiffers/);
    // The second one leaving does not hang on the PVC (its own shape would be refused).
    await remove("shape-b");
    const left = await kubectlJson<{ metadata: Meta }>(["-n", ns.name, "get", "pvc", pvcName]);
    expect((left.metadata.ownerReferences ?? []).map((r) => r.name)).toEqual(["shape-a"]);
    await remove("shape-a");
  }, 600_000);

  it("a refused child apply and pods the ReplicaSet cannot create show in kubectl get dsd, conditions and Events", async () => {
    // Admission policies stand for what refuses writes in a real cluster: a webhook, Pod Security, a quota.
    const policy = (name: string, resource: string, group: string, instance: string) => [
      {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicy",
        metadata: { name },
        spec: {
          failurePolicy: "Fail",
          matchConstraints: {
            resourceRules: [
              { apiGroups: [group], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: [resource] },
            ],
          },
          validations: [
            {
              expression: `!has(object.metadata.labels) || !('${INSTANCE}' in object.metadata.labels) || object.metadata.labels['${INSTANCE}'] != '${instance}'`,
              message: `${resource} of ${instance} are not allowed by policy ${name}`,
              reason: "Forbidden",
            },
          ],
        },
      },
      {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicyBinding",
        metadata: { name },
        spec: {
          policyName: name,
          validationActions: ["Deny"],
          matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns.name } } },
        },
      },
    ];
    const objs = [
      ...policy(`${ns.name}-no-deploy`, "deployments", "apps", "refused"),
      ...policy(`${ns.name}-no-pods`, "pods", "", "nopods"),
    ];
    const listOf = JSON.stringify({ apiVersion: "v1", kind: "List", items: objs });
    await kubectlOk(["apply", "-f", "-"], { input: listOf });
    try {
      // A policy takes effect a moment after it is created: wait until it refuses.
      await waitFor(
        async () => {
          const r = await kubectl(["-n", ns.name, "create", "--dry-run=server", "-f", "-"], {
            input: JSON.stringify({
              apiVersion: "apps/v1",
              kind: "Deployment",
              metadata: { name: "probe", labels: { [INSTANCE]: "refused" } },
              spec: {
                selector: { matchLabels: { a: "b" } },
                template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } },
              },
            }),
          });
          return r.code !== 0 && /not allowed by policy/.test(r.stderr);
        },
        { timeoutMs: 60_000, what: "the admission policy refuses" },
      );
      await create("refused");
      await create("nopods");
      const refused = await waitForDsd("refused", "Synced False", (d) => cond(d, "Synced")?.status === "False");
      expect(refused.status!.phase).toBe("Degraded");
      expect(cond(refused, "Synced")).toMatchObject({ reason: "Forbidden" });
      expect(cond(refused, "Synced")!.message).toMatch(/apply Deployment .*refused.*not allowed by policy/);
      expect(cond(refused, "Degraded")).toMatchObject({ status: "True", reason: "Forbidden" });
      expect(await kubectlOk(["-n", ns.name, "get", "dsd", "refused", "--no-headers"])).toMatch(/refused\s+Degraded/);
      expect(await events("refused")).toMatch(/Warning\s+FailedApply\s+apply Deployment .* refused \(Forbidden\)/);

      const nopods = await waitForDsd(
        "nopods",
        "Degraded FailedCreate",
        (d) => cond(d, "Degraded")?.reason === "FailedCreate",
      );
      expect(nopods.status!.phase).toBe("Degraded");
      expect(cond(nopods, "Degraded")!.message).toMatch(/not allowed by policy/);
      expect(await events("nopods")).toMatch(/Warning\s+Degraded/);
    } finally {
      await kubectl(["delete", "-f", "-"], { input: listOf });
    }
    // Once nothing refuses, both converge and the failure is gone from status.
    const ok = await waitForDsd("refused", "Serving", (d) => serving(d) && cond(d, "Synced")?.status === "True");
    expect(cond(ok, "Degraded")?.status).toBe("False");
    await waitForDsd("nopods", "Serving", serving, 300_000);
    await remove("refused", "nopods");
  }, 600_000);

  it("node drains and evictions of the download do not use up its Job's backoff limit", async () => {
    // A plain-folder source: its own PVC, a fresh download, slow enough to disrupt it four times.
    hubA.setFault({ kind: "rate", bytesPerSecond: 8 * 1024 });
    await create("drained", {
      model: { name: MODEL, revision: V4_FLASH_REVISION, source: { url: { baseURL: hubA.plainUrl(MODEL) } } },
    });
    const d = await waitForDsd("drained", "a weights PVC", (x) => x.status?.weights?.pvcName !== undefined);
    const job = `${d.status!.weights.pvcName}-pull`;
    const disrupted = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const pod = await waitFor(
        async () =>
          (await list<{ metadata: Meta; status: any }>("pods", `job-name=${job}`)).find(
            (p) =>
              p.status?.phase === "Running" &&
              !disrupted.has(p.metadata.name) &&
              runner.running().includes(`${ns.name}/${p.metadata.name}`),
          ),
        { timeoutMs: 120_000, what: `download pod ${i + 1} running` },
      );
      await sleep(1000);
      // What the kubelet writes for a pod killed by a drain or an eviction.
      const now = new Date().toISOString();
      await kubectlOk([
        "-n",
        ns.name,
        "patch",
        "pod",
        pod.metadata.name,
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({
          status: {
            phase: "Failed",
            conditions: [
              {
                type: "DisruptionTarget",
                status: "True",
                reason: "EvictionByEvictionAPI",
                message: "Eviction API: evicting",
                lastTransitionTime: now,
              },
              { type: "Ready", status: "False", reason: "PodFailed", lastTransitionTime: now },
            ],
          },
        }),
      ]);
      disrupted.add(pod.metadata.name);
    }
    hubA.clearFaults();
    const done = await waitForDsd(
      "drained",
      "WeightsReady",
      (x) => cond(x, "WeightsReady")?.status === "True",
      300_000,
    );
    // One Job did it: no operator-level retry, no Failed Job.
    expect(done.status!.weights.attempts ?? 0).toBe(0);
    const j = await kubectlJson<any>(["-n", ns.name, "get", "job", job]);
    expect((j.status.conditions ?? []).some((c: Cond) => c.type === "Failed" && c.status === "True")).toBe(false);
    expect(disrupted.size).toBe(4);
    await remove("drained");
  }, 600_000);

  it("a download killed mid-way, with bytes on disk corrupted, resumes and ends verified without fetching it all again", async () => {
    // Its own source (the second Hub as a plain folder): a fresh PVC and download.
    hubB.setFault({ kind: "rate", bytesPerSecond: 16 * 1024 });
    const served0 = hubB.bytesServed();
    const base = hubB.plainUrl(MODEL);
    await create("killed", { model: { name: MODEL, revision: REVISION_B, source: { url: { baseURL: base } } } });
    const d = await waitForDsd("killed", "a weights PVC", (x) => x.status?.weights?.pvcName !== undefined);
    const pvcName = d.status!.weights.pvcName as string;
    const job = `${pvcName}-pull`;
    const pod = await waitFor(
      async () => {
        const p = (await list<{ metadata: Meta; status: any }>("pods", `job-name=${job}`)).find((x) =>
          runner.running().includes(`${ns.name}/${x.metadata.name}`),
        );
        // Some files done, some in flight.
        return p && hubB.bytesServed() - served0 > 20 * SHARD ? p : undefined;
      },
      { timeoutMs: 120_000, what: "the download under way" },
    );
    expect(runner.signal(`${ns.name}/${pod.metadata.name}`, "SIGKILL")).toBe(true);
    // Flip bytes of a file on disk that the killed run had finished, and of one it was writing.
    const pvc = await kubectlJson<{ spec: { volumeName: string } }>(["-n", ns.name, "get", "pvc", pvcName]);
    const pv = await kubectlJson<{ spec: { hostPath: { path: string } } }>(["get", "pv", pvc.spec.volumeName]);
    const dir = pv.spec.hostPath.path;
    const files = readdirSync(dir).filter((f) => f.endsWith(".safetensors") || f.endsWith(".incomplete"));
    const done = files.find((f) => f.endsWith(".safetensors"));
    const partial = files.find((f) => f.endsWith(".incomplete") && statSync(join(dir, f)).size > 4096);
    for (const f of [done, partial].filter((x): x is string => x !== undefined)) {
      const fd = openSync(join(dir, f), "r+");
      writeSync(fd, Buffer.alloc(512, 0xa5), 0, 512, 1024);
      closeSync(fd);
    }
    expect(done).toBeDefined();
    hubB.clearFaults();
    const ready = await waitForDsd(
      "killed",
      "WeightsReady",
      (x) => cond(x, "WeightsReady")?.status === "True",
      300_000,
    );
    expect(ready.status!.weights.pvcName).toBe(pvcName);
    // The files on disk are the source's, byte for byte, checked against its SHA256SUMS.
    const verify = await run(join(REPO_ROOT, "bin", "deepseek-operator"), [
      "weights",
      "verify",
      "--dir",
      dir,
      "--repo",
      MODEL,
      "--revision",
      REVISION_B,
      "--base-url",
      base,
    ]);
    expect(verify.code).toBe(0);
    // Resumed, not started over: what was fetched twice is at most what was in flight or corrupted.
    const total = 46 * SHARD;
    expect(hubB.bytesServed() - served0).toBeLessThan(total + 12 * SHARD);
    expect((await list("jobs")).filter((j) => j.metadata.name === job)).toHaveLength(1);
    await remove("killed");
  }, 600_000);

  it("the Hub answering 429 and 503: the download backs off, its pod is retried, and it ends verified with one Job and one PVC", async () => {
    const hubC = await startHubServer({ repos: [v4FlashShapedRepo({ shardSize: SHARD })], host: "127.0.0.1", port: 0 });
    try {
      // Ten refusals in a row: more than one run of the downloader gives up on (8 without progress),
      // so a pod fails, the Job retries it, and the next one resumes.
      hubC.setFault({ kind: "status", status: 429, route: "any", times: 5, retryAfter: 1 });
      hubC.setFault({ kind: "status", status: 503, route: "any", times: 5 });
      await create("throttled", {
        model: { name: MODEL, revision: V4_FLASH_REVISION, source: { huggingFace: { endpoint: hubC.url } } },
      });
      const d = await waitForDsd("throttled", "Serving", serving, 480_000);
      expect(cond(d, "WeightsReady")?.status).toBe("True");
      const pvcs = (await list("pvc", "app.kubernetes.io/component=weights")).filter((p) =>
        (p.metadata.ownerReferences ?? []).some((r) => r.name === "throttled"),
      );
      expect(pvcs.map((p) => p.metadata.name)).toEqual([d.status!.weights.pvcName]);
      expect((await list("jobs")).filter((j) => j.metadata.name === `${d.status!.weights.pvcName}-pull`)).toHaveLength(
        1,
      );
      await remove("throttled");
    } finally {
      await hubC.close();
    }
  }, 600_000);

  it("converges with nothing orphaned: no engine objects or Jobs without a deployment, weights PVCs kept without owners", async () => {
    for (const kind of ["deployments", "services", "poddisruptionbudgets"])
      expect(await list(kind, "app.kubernetes.io/part-of=deepseek-operator")).toEqual([]);
    const pvcs = await list("pvc", "app.kubernetes.io/component=weights");
    expect(pvcs.length).toBeGreaterThan(0);
    for (const p of pvcs) {
      expect(p.metadata.deletionTimestamp).toBeUndefined();
      expect(p.metadata.ownerReferences ?? []).toEqual([]);
    }
    // Every Job left is a finished download of a kept PVC (owned by it), none of a deployment.
    const names = new Set(pvcs.map((p) => p.metadata.uid));
    for (const j of await list("jobs"))
      expect((j.metadata.ownerReferences ?? []).every((r) => names.has(r.uid))).toBe(true);
  }, 120_000);
});
