// The operator end to end on the real control plane, installed as users install it: `helm install` of
// the chart. The release's Deployment creates the operator pods and the harness's local runner runs them
// (their own command, env and ServiceAccount token; test/harness/release.ts), the downloader really runs
// the same way against the local Hub simulator, and KWOK plays the GPU nodes and engine pods. The last
// tests upgrade the release, upgrade its CRD and uninstall it.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { FINALIZER } from "../../operator/src/render/index.ts";
import { startHubServer, type HubServer } from "../../operator/src/sim/hub/server.ts";
import { v4FlashShapedRepo, V4_FLASH_REVISION } from "../../operator/src/sim/hub/repo.ts";
import { LocalPodRunner, SHIPPED_ENTRYPOINT } from "../harness/local-runner.ts";
import { counterSum, waitUntilCreatable } from "../harness/operator.ts";
import {
  CHART,
  installRelease,
  leaseHolder,
  operatorPods,
  podMetrics,
  releaseManifest,
  uninstallRelease,
  upgradeRelease,
  type OperatorPod,
  type Release,
} from "../harness/release.ts";
import {
  installCrd,
  createTestNamespace,
  helm,
  kubectl,
  kubectlJson,
  kubectlOk,
  loadKubeConfig,
  REPO_ROOT,
  waitFor,
  type TestNamespace,
} from "./lib/index.ts";

const WORK = join(REPO_ROOT, ".cluster", "e2e-operator");
// A second model the Hub serves, for the refused-token case (its own PVC, its own Job).
const GATED_MODEL = "sgl-project/DeepSeek-V4-Flash-FP8";
const GATED_REVISION = "0123456789abcdef0123456789abcdef01234567";
const GROUP = { group: "serving.deepseek-operator.io", version: "v1alpha1", plural: "deepseekdeployments" };

type Dsd = {
  metadata: { name: string; uid: string; generation: number; finalizers?: string[] };
  spec: Record<string, any>;
  status?: Record<string, any>;
};
type Cond = { type: string; status: string; reason: string; message: string; lastTransitionTime: string };

let kc: KubeConfig;
let api: CustomObjectsApi;
let system: TestNamespace;
let ns: TestNamespace;
let hub: HubServer;
let runner: LocalPodRunner;
let release: Release;

function dsdManifest(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "serving.deepseek-operator.io/v1alpha1",
    kind: "DeepSeekDeployment",
    metadata: { name, namespace: ns.name },
    spec: {
      model: { revision: V4_FLASH_REVISION, source: { huggingFace: { endpoint: hub.url } } },
      gpu: { type: "H200" },
      replicas: 1,
      ...spec,
    },
  };
}

const reconciles = async (p: OperatorPod) => counterSum(await podMetrics(p), "controller_runtime_reconcile_total");
/** The operator pod holding the lease, once there is one. */
const leader = async () => {
  const holder = await leaseHolder(release);
  return (await operatorPods(release)).find((p) => p.name === holder);
};

const getDsd = async (name: string) =>
  (await api.getNamespacedCustomObject({ ...GROUP, namespace: ns.name, name })) as Dsd;
const cond = (d: Dsd, type: string) => (d.status?.conditions as Cond[] | undefined)?.find((c) => c.type === type);
const get = <T>(args: string[]) => kubectlJson<T>(["-n", ns.name, "get", ...args]);

async function waitForCondition(name: string, type: string, status: string, timeoutMs = 180_000): Promise<Dsd> {
  return waitFor(
    async () => {
      const d = await getDsd(name);
      return cond(d, type)?.status === status ? d : undefined;
    },
    { timeoutMs, intervalMs: 500, what: `${name} ${type}=${status}` },
  );
}

beforeAll(async () => {
  mkdirSync(WORK, { recursive: true });
  kc = loadKubeConfig();
  api = kc.makeApiClient(CustomObjectsApi);
  await installCrd();
  system = await createTestNamespace("e2e-dso-system", kc);
  ns = await createTestNamespace("e2e-dso", kc);
  // Cluster-scoped objects of the release (ClusterRole, finalizer policy) carry its name: unique per run.
  release = { name: `dso-${system.name.slice(-6)}`, namespace: system.name };
  runner = new LocalPodRunner({ admin: kc, workDir: join(WORK, "pods"), entrypoint: SHIPPED_ENTRYPOINT });
  runner.start();
  // The chart's defaults: two replicas with leader election, the operator watching the test namespace.
  await installRelease(release, [ns.name]);
  await waitUntilCreatable(ns.name, { withFinalizer: true });
  // 46 shards of 2 MiB at 256 KiB/s per transfer: slow enough that progress is visible in kubectl.
  hub = await startHubServer({
    repos: [
      v4FlashShapedRepo({ shardSize: 2 * 2 ** 20 }),
      v4FlashShapedRepo({ shardSize: 1024, id: GATED_MODEL, revision: GATED_REVISION }),
    ],
    host: "127.0.0.1",
    port: 0,
  });
  hub.setFault({ kind: "rate", bytesPerSecond: 256 * 1024 });
  await waitFor(async () => ((await operatorPods(release)).length === 2 && (await leader()) ? true : undefined), {
    timeoutMs: 60_000,
    what: "two operator pods, one holding the lease",
  });
}, 300_000);

afterAll(async () => {
  // Also when a test failed before the uninstall test: the release's cluster-scoped objects must go.
  if (release) await uninstallRelease(release);
  await runner?.stop();
  await hub?.close();
  await ns?.delete();
  await system?.delete();
}, 120_000);

describe("the operator", () => {
  it("downloads the weights with progress in kubectl, and creates engine pods only once they are verified", async () => {
    // The chart's admission policy puts the finalizer on in the create itself, before any reconcile.
    const created = (await api.createNamespacedCustomObject({
      ...GROUP,
      namespace: ns.name,
      body: dsdManifest("flash-a"),
    })) as Dsd;
    expect(created.metadata.finalizers).toEqual([FINALIZER]);
    const seenProgress = new Set<string>();
    const seenEta = new Set<string>();
    let engineBeforeWeights = false;
    const done = await waitFor(
      async () => {
        const rows = (
          await kubectlOk([
            "-n",
            ns.name,
            "get",
            "dsd",
            "flash-a",
            "--no-headers",
            "-o",
            "custom-columns=W:.status.weights.progress,E:.status.weights.eta",
          ])
        ).trim();
        const [progress, eta] = rows.split(/\s+/);
        if (progress && progress !== "<none>") seenProgress.add(progress);
        if (eta && eta !== "<none>") seenEta.add(eta);
        // Deployments first, the PVC second: the verified marker never goes away, so a Deployment
        // seen before a PVC without it means the engine was created before the weights were verified.
        const deploys = await get<{ items: unknown[] }>(["deployments", "-l", "app.kubernetes.io/instance=flash-a"]);
        const pvcs = await get<{ items: { metadata: { annotations?: Record<string, string> } }[] }>([
          "pvc",
          "-l",
          "app.kubernetes.io/component=weights",
        ]);
        const verified = pvcs.items.some(
          (p) => p.metadata.annotations?.["serving.deepseek-operator.io/weights-verified"] === V4_FLASH_REVISION,
        );
        if (deploys.items.length > 0 && !verified) engineBeforeWeights = true;
        const d = await getDsd("flash-a");
        return cond(d, "WeightsReady")?.status === "True" ? d : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1000, what: "flash-a WeightsReady" },
    );
    expect(engineBeforeWeights).toBe(false);
    expect([...seenProgress].some((p) => /^\d+%$/.test(p) && p !== "0%" && p !== "100%")).toBe(true);
    // The ETA column reads as a duration (45s, 2m30s, 1h5m), never a bare number of seconds.
    expect(seenEta.size).toBeGreaterThan(0);
    for (const eta of seenEta) expect(eta).toMatch(/^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/);
    expect(done.status?.weights).toMatchObject({ verified: true, progress: "100%", filesTotal: 49 });
    // The download Job ran once, as the ServiceAccount whose Role may patch only this PVC.
    const pvcName = done.status?.weights.pvcName as string;
    const jobs = await waitFor(
      async () => {
        const j = await get<{ items: { metadata: { name: string }; status: { succeeded?: number } }[] }>(["jobs"]);
        return j.items[0]?.status.succeeded === 1 ? j : undefined;
      },
      { timeoutMs: 60_000, what: "download Job succeeded" },
    );
    expect(jobs.items.map((j) => j.metadata.name)).toEqual([`${pvcName}-pull`]);
  }, 300_000);

  it("runs the planned engine pods on H200 nodes and reaches Serving", async () => {
    const d = await waitFor(
      async () => {
        const x = await getDsd("flash-a");
        return x.status?.phase === "Serving" ? x : undefined;
      },
      { timeoutMs: 120_000, what: "flash-a Serving" },
    );
    const plan = d.status!.plan;
    expect(plan.gpusPerReplica).toBe(4);
    expect(cond(d, "Ready")?.status).toBe("True");
    const deploy = await kubectlJson<any>(["-n", ns.name, "get", "deployment", "flash-a"]);
    expect(deploy.metadata.ownerReferences[0]).toMatchObject({
      kind: "DeepSeekDeployment",
      name: "flash-a",
      controller: true,
    });
    expect(deploy.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]).toBe("4");
    const pods = await get<{ items: { spec: { nodeName: string }; status: { podIP: string } }[] }>([
      "pods",
      "-l",
      "app.kubernetes.io/instance=flash-a",
    ]);
    expect(pods.items).toHaveLength(1);
    const node = await kubectlJson<any>(["get", "node", pods.items[0]!.spec.nodeName]);
    expect(node.metadata.labels["nvidia.com/gpu.product"]).toBe("NVIDIA-H200");
    expect(pods.items[0]!.status.podIP).toMatch(/^127\./);
    for (const kind of ["service", "poddisruptionbudget"]) {
      const o = await kubectlJson<any>(["-n", ns.name, "get", kind, "flash-a"]);
      expect(o.metadata.ownerReferences[0].uid).toBe(d.metadata.uid);
    }
    const row = await kubectlOk(["-n", ns.name, "get", "dsd", "flash-a"]);
    expect(row).toMatch(/PHASE\s+READY\s+DESIRED\s+GPUS\s+WEIGHTS/);
    expect(row).toMatch(/flash-a\s+Serving\s+1\s+1\s+4\s+100%/);
    const events = await kubectlOk([
      "-n",
      ns.name,
      "get",
      "events.events.k8s.io",
      "--field-selector",
      "regarding.name=flash-a",
      "-o",
      "custom-columns=R:.reason",
      "--no-headers",
    ]);
    expect(events).toContain("Serving");
  }, 180_000);

  it("shares the weights with a second deployment of the same model: no second download", async () => {
    await api.createNamespacedCustomObject({ ...GROUP, namespace: ns.name, body: dsdManifest("flash-b") });
    const b = await waitForCondition("flash-b", "WeightsReady", "True", 60_000);
    const a = await getDsd("flash-a");
    expect(b.status?.weights.pvcName).toBe(a.status?.weights.pvcName);
    const jobs = await get<{ items: unknown[] }>(["jobs"]);
    expect(jobs.items).toHaveLength(1);
    const pvc = await kubectlJson<any>(["-n", ns.name, "get", "pvc", b.status?.weights.pvcName]);
    expect(pvc.metadata.ownerReferences.map((r: { name: string }) => r.name).sort()).toEqual(["flash-a", "flash-b"]);
  }, 120_000);

  it("follows a spec edit and catches up observedGeneration", async () => {
    await kubectlOk([
      "-n",
      ns.name,
      "patch",
      "dsd",
      "flash-b",
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { replicas: 2 } }),
    ]);
    const d = await waitFor(
      async () => {
        const x = await getDsd("flash-b");
        return x.status?.observedGeneration === x.metadata.generation && x.status?.readyReplicas === 2 ? x : undefined;
      },
      { timeoutMs: 120_000, what: "flash-b 2 ready replicas" },
    );
    expect(d.status?.gpus).toBe(8);
    const deploy = await kubectlJson<any>(["-n", ns.name, "get", "deployment", "flash-b"]);
    expect(deploy.spec.replicas).toBe(2);
  }, 150_000);

  it("scales through the scale subresource", async () => {
    await kubectlOk(["-n", ns.name, "scale", "dsd/flash-b", "--replicas=1"]);
    expect((await getDsd("flash-b")).spec.replicas).toBe(1);
    await waitFor(
      async () => (await kubectlJson<any>(["-n", ns.name, "get", "deployment", "flash-b"])).spec.replicas === 1,
      { timeoutMs: 60_000, what: "deployment scaled to 1" },
    );
    const scale = JSON.parse(
      await kubectlOk([
        "get",
        "--raw",
        `/apis/serving.deepseek-operator.io/v1alpha1/namespaces/${ns.name}/deepseekdeployments/flash-b/scale`,
      ]),
    );
    expect(scale.status.selector).toBe(
      "app.kubernetes.io/name=deepseek-engine,app.kubernetes.io/instance=flash-b,app.kubernetes.io/component=engine",
    );
  }, 90_000);

  it("restores an owned Deployment deleted by hand", async () => {
    const before = await kubectlJson<any>(["-n", ns.name, "get", "deployment", "flash-a"]);
    await kubectlOk(["-n", ns.name, "delete", "deployment", "flash-a", "--wait=true"]);
    const after = await waitFor(
      async () => {
        const r = await kubectlJson<{ items: any[] }>([
          "-n",
          ns.name,
          "get",
          "deployments",
          "--field-selector",
          "metadata.name=flash-a",
        ]);
        return r.items[0];
      },
      { timeoutMs: 60_000, what: "flash-a Deployment recreated" },
    );
    expect(after.metadata.uid).not.toBe(before.metadata.uid);
  }, 90_000);

  it("makes no writes for 60 s while nothing changes", async () => {
    await waitFor(
      async () => {
        const [a, b] = [await getDsd("flash-a"), await getDsd("flash-b")];
        return (
          a.status?.phase === "Serving" &&
          b.status?.phase === "Serving" &&
          a.status?.readyReplicas === 1 &&
          b.status?.readyReplicas === 1
        );
      },
      { timeoutMs: 120_000, what: "both Serving" },
    );
    await sleep(5_000); // let the last status writes of the recreate settle
    // Writes to DeepSeekDeployments and their children; Lease renewals and Event series are not that.
    const op = (await leader())!;
    const writes = async () =>
      counterSum(
        await podMetrics(op),
        "deepseek_operator_api_writes_total",
        (l) => l.kind !== "Lease" && l.kind !== "Event",
      );
    const before = await writes();
    await sleep(60_000);
    expect(await writes()).toBe(before);
  }, 240_000);

  it("explains with numbers why pods stay Pending when the cluster lacks GPUs", async () => {
    // 3 replicas × 8 H100: the cluster has two 8-GPU H100 nodes.
    await api.createNamespacedCustomObject({
      ...GROUP,
      namespace: ns.name,
      body: dsdManifest("flash-big", { gpu: { type: "H100" }, replicas: 3 }),
    });
    const d = await waitForCondition("flash-big", "GPUsAvailable", "False", 180_000);
    const c = cond(d, "GPUsAvailable")!;
    expect(c.reason).toBe("InsufficientGPUs");
    expect(c.message).toMatch(
      /each replica needs 8 × H100, 3 replica\(s\) need 24; the cluster has 16 H100 GPUs on 2 nodes/,
    );
    expect(c.message).toMatch(/Insufficient nvidia\.com\/gpu/);
    await kubectlOk(["-n", ns.name, "delete", "dsd", "flash-big", "--wait=true", "--timeout=60s"]);
  }, 240_000);

  it("reconciles only on the leader, and a standby takes over within the lease time when the leader dies", async () => {
    const pods = await operatorPods(release);
    const first = (await leader())!;
    const standby = pods.find((p) => p.name !== first.name)!;
    expect(pods).toHaveLength(2);
    expect(await reconciles(first)).toBeGreaterThan(0);
    expect(await reconciles(standby)).toBe(0);
    // No graceful release: the others must wait out the 15 s lease. The dead pod's ReplicaSet replaces it.
    expect(runner.kill(first.key, "SIGKILL")).toBe(true);
    const killedAt = Date.now();
    const next = await waitFor(
      async () => {
        const p = await leader();
        return p && p.name !== first.name ? p : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "another operator pod takes the lease" },
    );
    const handover = Date.now() - killedAt;
    await api.createNamespacedCustomObject({ ...GROUP, namespace: ns.name, body: dsdManifest("flash-c") });
    await waitForCondition("flash-c", "WeightsReady", "True", 60_000);
    expect(await reconciles(next)).toBeGreaterThan(0);
    await waitFor(
      async () => {
        const p = await operatorPods(release);
        return p.length === 2 && !p.some((x) => x.name === first.name) ? p : undefined;
      },
      { timeoutMs: 60_000, what: "the ReplicaSet replaced the dead operator pod" },
    );
    // Measured, not asserted (timings belong in bench/): expect about the 15 s lease plus a retry.
    process.stderr.write(`leader handover took ${handover} ms\n`);
  }, 150_000);

  it("reports a failed download with its reason and the next retry, and creates no engine", async () => {
    // Every request for this revision is refused as the Hub refuses a missing or wrong token.
    hub.setFault({ kind: "status", status: 401, route: "any", times: 1000, errorCode: "GatedRepo" });
    try {
      await api.createNamespacedCustomObject({
        ...GROUP,
        namespace: ns.name,
        body: dsdManifest("flash-gated", {
          model: { name: GATED_MODEL, revision: GATED_REVISION, source: { huggingFace: { endpoint: hub.url } } },
          engine: { type: "sglang" },
          context: { maxModelLen: 131072, targetConcurrency: 1 },
        }),
      });
      const d = await waitForCondition("flash-gated", "WeightsReady", "False", 120_000).then(() =>
        waitFor(
          async () => {
            const x = await getDsd("flash-gated");
            // The reason comes first (the downloader's own report on the PVC), the retry schedule once
            // the Job has failed.
            return cond(x, "WeightsReady")?.reason === "Unauthorized" && x.status?.weights?.nextRetryTime
              ? x
              : undefined;
          },
          { timeoutMs: 120_000, intervalMs: 1000, what: "WeightsReady reason Unauthorized with a next retry time" },
        ),
      );
      expect(d.status?.phase).toBe("Failed");
      expect(d.status?.weights).toMatchObject({ phase: "Failed", reason: "Unauthorized" });
      expect(Date.parse(d.status?.weights.nextRetryTime)).toBeGreaterThan(Date.now());
      // The downloader exits 3 for a refused token; the Job's podFailurePolicy fails it at once, without retries.
      const job = await kubectlJson<any>(["-n", ns.name, "get", "job", `${d.status?.weights.pvcName}-pull`]);
      expect(job.status.failed).toBe(1);
      expect(
        (await get<{ items: unknown[] }>(["deployments", "-l", "app.kubernetes.io/instance=flash-gated"])).items,
      ).toHaveLength(0);
      const events = await kubectlOk([
        "-n",
        ns.name,
        "get",
        "events.events.k8s.io",
        "--field-selector",
        "regarding.name=flash-gated",
        "-o",
        "custom-columns=T:.type,R:.reason",
        "--no-headers",
      ]);
      expect(events).toMatch(/Warning\s+Unauthorized/);
    } finally {
      hub.clearFaults();
      hub.setFault({ kind: "rate", bytesPerSecond: 256 * 1024 });
    }
    await kubectlOk(["-n", ns.name, "delete", "dsd", "flash-gated", "--wait=true", "--timeout=60s"]);
  }, 300_000);

  it("binds the finalizer policy to the watched namespaces only: no finalizer that no operator would remove", async () => {
    const elsewhere = (await api.createNamespacedCustomObject({
      ...GROUP,
      namespace: system.name,
      body: { ...dsdManifest("unwatched"), metadata: { name: "unwatched", namespace: system.name } },
    })) as Dsd;
    try {
      expect(elsewhere.metadata.finalizers ?? []).toEqual([]);
    } finally {
      await api.deleteNamespacedCustomObject({ ...GROUP, namespace: system.name, name: "unwatched" });
    }
  });

  it("on delete: garbage-collects the children, removes the finalizer, keeps the retained weights PVC", async () => {
    const pvcName = (await getDsd("flash-a")).status?.weights.pvcName as string;
    await kubectlOk(["-n", ns.name, "delete", "dsd", "flash-a", "flash-b", "flash-c", "--wait=true", "--timeout=90s"]);
    await waitFor(async () => (await get<{ items: unknown[] }>(["deployments"])).items.length === 0, {
      timeoutMs: 90_000,
      what: "Deployments garbage-collected",
    });
    await waitFor(
      async () =>
        (await get<{ items: unknown[] }>(["services", "-l", "app.kubernetes.io/part-of=deepseek-operator"])).items
          .length === 0,
      { timeoutMs: 90_000, what: "Services garbage-collected" },
    );
    const pvc = await kubectlJson<any>(["-n", ns.name, "get", "pvc", pvcName]);
    expect(pvc.metadata.deletionTimestamp).toBeUndefined();
    expect(pvc.metadata.ownerReferences ?? []).toEqual([]);
  }, 240_000);
});

/** A process's environment and argv, as the kernel holds them. */
const environOf = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
const argvOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
const CRD_NAME = "deepseekdeployments.serving.deepseek-operator.io";

describe("the Helm release", () => {
  it("helm upgrade with changed values rolls the operator onto the upgraded Deployment's command and env", async () => {
    const before = await operatorPods(release);
    await upgradeRelease(release, ["logLevel=debug", "metrics.port=9090", "workers=2"]);
    const deploy = (await releaseManifest(release)).find((o) => o.kind === "Deployment")!;
    const container = deploy.spec.template.spec.containers[0] as {
      command: string[];
      args?: string[];
      env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    };
    expect(container.env).toContainEqual({ name: "LOG_LEVEL", value: "debug" });
    // helm --wait returns once the new pods are Ready; the old ones may still be terminating.
    const pods = await waitFor(
      async () => {
        const p = await operatorPods(release);
        return p.length === 2 && p.every((x) => !before.some((b) => b.name === x.name)) ? p : undefined;
      },
      { timeoutMs: 120_000, what: "two operator pods of the upgraded Deployment" },
    );
    for (const pod of pods) {
      const proc = runner.process(pod.key);
      expect(proc).toBeDefined();
      // The entry point is the image's, mapped onto the bundle; the rest of the command line is the chart's.
      expect(argvOf(proc!.pid)).toEqual([
        ...SHIPPED_ENTRYPOINT,
        ...container.command.slice(1),
        ...(container.args ?? []),
      ]);
      const env = environOf(proc!.pid);
      for (const e of container.env) {
        const want = e.value ?? (e.valueFrom?.fieldRef?.fieldPath === "metadata.name" ? pod.name : release.namespace);
        expect({ name: e.name, value: env[e.name] }).toEqual({ name: e.name, value: want });
      }
      expect(pod.ports.metrics).toBe(9090);
      expect(await podMetrics(pod)).toContain("controller_runtime_reconcile_total");
      await expect(fetch(`http://${pod.ip}:8080/metrics`)).rejects.toThrow();
    }
    // The rolled operator leads and reconciles: a new deployment of the same model serves from the retained weights.
    await api.createNamespacedCustomObject({ ...GROUP, namespace: ns.name, body: dsdManifest("flash-d") });
    await waitFor(async () => ((await getDsd("flash-d")).status?.phase === "Serving" ? true : undefined), {
      timeoutMs: 240_000,
      intervalMs: 1000,
      what: "flash-d Serving after the upgrade",
    });
    expect(pods.map((p) => p.name)).toContain(await leaseHolder(release));
  }, 420_000);

  it("upgrades the CRD of the live release with the command NOTES.txt gives", async () => {
    // An older CRD on the cluster: one printer column short.
    const live = await kubectlJson<any>(["get", "crd", CRD_NAME]);
    const eta = (live.spec.versions[0].additionalPrinterColumns as { name: string }[]).findIndex(
      (c) => c.name === "ETA",
    );
    await kubectlOk([
      "patch",
      "crd",
      CRD_NAME,
      "--type=json",
      "-p",
      JSON.stringify([{ op: "remove", path: `/spec/versions/0/additionalPrinterColumns/${eta}` }]),
    ]);
    expect(await kubectlOk(["-n", ns.name, "get", "dsd", "flash-d", "-o", "wide"])).not.toMatch(/\bETA\b/);
    // helm show crds <chart> | kubectl apply --server-side --force-conflicts -f -
    const crds = await helm(["show", "crds", CHART]);
    expect(crds.code).toBe(0);
    await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: crds.stdout });
    const upgraded = await kubectlJson<any>(["get", "crd", CRD_NAME]);
    expect(upgraded.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual(
      live.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name),
    );
    expect(await kubectlOk(["-n", ns.name, "get", "dsd", "flash-d", "-o", "wide"])).toMatch(/\bETA\b/);
    // The release goes on: its operator still follows an edit.
    await kubectlOk(["-n", ns.name, "scale", "dsd/flash-d", "--replicas=2"]);
    await waitFor(
      async () => {
        const d = await getDsd("flash-d");
        return d.status?.observedGeneration === d.metadata.generation && d.status?.readyReplicas === 2 ? d : undefined;
      },
      { timeoutMs: 120_000, what: "flash-d scaled to 2 after the CRD upgrade" },
    );
  }, 240_000);

  it("helm uninstall stops the operator and leaves the DeepSeekDeployment and its weights PVC in place", async () => {
    const manifest = await releaseManifest(release);
    const d = await getDsd("flash-d");
    const pvcName = d.status?.weights.pvcName as string;
    const r = await uninstallRelease(release);
    expect(r.code).toBe(0);
    await waitFor(
      async () => {
        const pods = await kubectlJson<{ items: unknown[] }>([
          "-n",
          release.namespace,
          "get",
          "pods",
          "-l",
          `app.kubernetes.io/instance=${release.name}`,
        ]);
        return pods.items.length === 0 ? true : undefined;
      },
      { timeoutMs: 90_000, what: "the operator pods gone" },
    );
    // Everything the release installed is gone, cluster-scoped objects too.
    for (const o of manifest) {
      const args = o.metadata.namespace ? ["-n", o.metadata.namespace] : [];
      const group = o.apiVersion.includes("/") ? `.${o.apiVersion.split("/")[0]}` : "";
      const got = await kubectl([...args, "get", `${o.kind}${group}`, o.metadata.name]);
      expect(got.stderr).toMatch(/NotFound|not found/);
      expect({ object: `${o.kind}/${o.metadata.name}`, found: got.code === 0 }).toEqual({
        object: `${o.kind}/${o.metadata.name}`,
        found: false,
      });
    }
    const after = await getDsd("flash-d");
    expect(after.metadata.uid).toBe(d.metadata.uid);
    expect(after.metadata.finalizers).toEqual([FINALIZER]);
    const pvc = await kubectlJson<any>(["-n", ns.name, "get", "pvc", pvcName]);
    expect(pvc.metadata.deletionTimestamp).toBeUndefined();
    expect(pvc.status.phase).toBe("Bound");

    // With no operator left, NOTES.txt's way out: keep the weights, then lift the finalizer.
    await kubectlOk(["-n", ns.name, "delete", "dsd", "flash-d", "--wait=false"]);
    await kubectlOk([
      "-n",
      ns.name,
      "patch",
      "pvc",
      pvcName,
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/metadata/ownerReferences"}]',
    ]);
    await kubectlOk([
      "-n",
      ns.name,
      "patch",
      "dsd",
      "flash-d",
      "--type=merge",
      "-p",
      '{"metadata":{"finalizers":null}}',
    ]);
    await waitFor(
      async () =>
        (await kubectl(["-n", ns.name, "get", "dsd", "flash-d"])).code !== 0 &&
        (await kubectlJson<{ items: unknown[] }>(["-n", ns.name, "get", "deployments"])).items.length === 0
          ? true
          : undefined,
      { timeoutMs: 90_000, what: "flash-d and its Deployment gone" },
    );
    await sleep(3_000); // the garbage collector would have removed an owned PVC by now
    const kept = await kubectlJson<any>(["-n", ns.name, "get", "pvc", pvcName]);
    expect(kept.metadata.deletionTimestamp).toBeUndefined();
  }, 240_000);
});
