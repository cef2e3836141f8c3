// The local control plane itself: real apiserver, scheduler, controllers and RBAC, with kwok
// simulating the GPU nodes and the pod lifecycle. Other e2e suites rely on every behaviour here.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { BatchV1Api, CoordinationV1Api, CoreV1Api, RbacAuthorizationV1Api, type V1Pod } from "@kubernetes/client-node";
import { GPU_TAINT, loadNodePools, nodeName } from "../cluster/nodes.ts";
import {
  apiStatus,
  kubectl,
  kubectlJson,
  kubectlOk,
  loadKubeConfig,
  mintServiceAccountKubeconfig,
  orNotFound,
  useTestNamespace,
  waitFor,
  type ServiceAccountCredentials,
} from "./lib/index.ts";

const kc = loadKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const batch = kc.makeApiClient(BatchV1Api);
const pools = loadNodePools();
const gpuPools = pools.filter((p) => p.gpu);

const SIM = "sim.deepseek-operator.io";
const gpuToleration = { key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect };

interface PodOptions {
  gpus?: number;
  tolerateGpu?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  restartPolicy?: "Always" | "Never" | "OnFailure";
}

function pod(name: string, o: PodOptions = {}): V1Pod {
  const gpu = o.gpus ? { "nvidia.com/gpu": String(o.gpus) } : undefined;
  return {
    metadata: { name, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: {
      restartPolicy: o.restartPolicy ?? "Always",
      ...(o.tolerateGpu ? { tolerations: [gpuToleration] } : {}),
      containers: [
        {
          name: "engine",
          image: "registry.invalid/engine:test",
          resources: { requests: { cpu: "1", memory: "1Gi", ...gpu }, limits: { memory: "1Gi", ...gpu } },
        },
      ],
    },
  };
}

async function readPod(namespace: string, name: string): Promise<V1Pod> {
  return core.readNamespacedPod({ name, namespace });
}

function condition(p: V1Pod, type: string) {
  return p.status?.conditions?.find((c) => c.type === type);
}

function inLoopback(ip: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

describe("simulated GPU nodes", () => {
  it("kubectl get nodes lists every simulated node with its nvidia.com/gpu capacity and GFD labels", async () => {
    const table = await kubectlOk(["get", "nodes", "-L", "nvidia.com/gpu.product"]);
    const list = await kubectlJson<{
      items: {
        metadata: { name: string; labels: Record<string, string> };
        spec: { taints?: { key: string; value?: string; effect: string }[] };
        status: {
          capacity: Record<string, string>;
          allocatable: Record<string, string>;
          conditions: { type: string; status: string }[];
        };
      }[];
    }>(["get", "nodes"]);
    const byName = new Map(list.items.map((n) => [n.metadata.name, n]));
    for (const p of pools) {
      for (let i = 0; i < p.count; i++) {
        const name = nodeName(p, i);
        expect(table).toContain(name);
        const n = byName.get(name);
        expect(n).toBeDefined();
        if (!n) continue;
        expect(n.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
        if (p.gpu) {
          expect(n.status.capacity["nvidia.com/gpu"]).toBe(String(p.gpu.count));
          expect(n.status.allocatable["nvidia.com/gpu"]).toBe(String(p.gpu.count));
          expect(n.metadata.labels).toMatchObject({
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": p.gpu.product,
            "nvidia.com/gpu.memory": String(p.gpu.memoryMiB),
            "nvidia.com/gpu.count": String(p.gpu.count),
          });
          expect(table).toContain(p.gpu.product);
          expect(n.spec.taints).toContainEqual({
            key: GPU_TAINT.key,
            value: GPU_TAINT.value,
            effect: GPU_TAINT.effect,
          });
        } else {
          expect(n.status.capacity["nvidia.com/gpu"]).toBeUndefined();
          expect(n.spec.taints ?? []).toEqual([]);
        }
      }
    }
    expect(gpuPools.length).toBeGreaterThan(0);
  });

  it("keeps every node lease renewed by kwok", async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const leases = await coord.listNamespacedLease({ namespace: "kube-node-lease" });
    const names = new Set(leases.items.map((l) => l.metadata?.name));
    for (const p of pools) for (let i = 0; i < p.count; i++) expect(names).toContain(nodeName(p, i));
  });
});

describe("scheduling and the kwok pod lifecycle", () => {
  const ns = useTestNamespace("e2e-cluster");

  it("schedules a 4-GPU pod (with the GPU toleration) onto a GPU node, where it becomes Ready", async () => {
    await core.createNamespacedPod({ namespace: ns.name, body: pod("gpu4", { gpus: 4, tolerateGpu: true }) });
    const p = await waitFor(
      async () => {
        const p = await readPod(ns.name, "gpu4");
        return condition(p, "Ready")?.status === "True" && p;
      },
      { what: "pod gpu4 Ready" },
    );
    const node = await core.readNode({ name: p.spec?.nodeName ?? "" });
    expect(Number(node.status?.allocatable?.["nvidia.com/gpu"])).toBeGreaterThanOrEqual(4);
    expect(p.status?.phase).toBe("Running");
    expect(p.status?.podIP && inLoopback(p.status.podIP)).toBe(true);
  });

  it("leaves a 16-GPU pod Pending with the scheduler's Unschedulable reason naming nvidia.com/gpu", async () => {
    await core.createNamespacedPod({ namespace: ns.name, body: pod("gpu16", { gpus: 16, tolerateGpu: true }) });
    const scheduled = await waitFor(
      async () => {
        const c = condition(await readPod(ns.name, "gpu16"), "PodScheduled");
        return c?.status === "False" && c;
      },
      { what: "PodScheduled=False on gpu16" },
    );
    expect(scheduled.reason).toBe("Unschedulable");
    expect(scheduled.message).toContain("Insufficient nvidia.com/gpu");
    const event = await waitFor(
      async () => {
        const evs = await core.listNamespacedEvent({
          namespace: ns.name,
          fieldSelector: "involvedObject.name=gpu16,reason=FailedScheduling",
        });
        return evs.items[0];
      },
      { what: "FailedScheduling event for gpu16" },
    );
    expect(event.message).toContain("nvidia.com/gpu");
    expect((await readPod(ns.name, "gpu16")).status?.phase).toBe("Pending");
  });

  it("keeps GPU pods without the toleration off the tainted GPU nodes", async () => {
    await core.createNamespacedPod({ namespace: ns.name, body: pod("gpu1-untolerated", { gpus: 1 }) });
    const c = await waitFor(
      async () => {
        const c = condition(await readPod(ns.name, "gpu1-untolerated"), "PodScheduled");
        return c?.status === "False" && c;
      },
      { what: "PodScheduled=False on gpu1-untolerated" },
    );
    expect(c.message).toContain("untolerated taint");
    expect(c.message).toContain(GPU_TAINT.key);
  });

  it("runs a Job to completion", async () => {
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: {
        metadata: { name: "done" },
        spec: { backoffLimit: 0, template: { spec: { ...pod("x", { restartPolicy: "Never" }).spec! } } },
      },
    });
    const job = await waitFor(
      async () => {
        const j = await batch.readNamespacedJob({ name: "done", namespace: ns.name });
        return j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True") && j;
      },
      { what: "Job done Complete" },
    );
    expect(job.status?.succeeded).toBe(1);
  });

  it("fails a pod labelled sim.deepseek-operator.io/fail with the requested exit code", async () => {
    await core.createNamespacedPod({
      namespace: ns.name,
      body: pod("fails", {
        restartPolicy: "Never",
        labels: { [`${SIM}/fail`]: "true" },
        annotations: { [`${SIM}/exit-code`]: "3", [`${SIM}/fail-after`]: "200ms" },
      }),
    });
    const p = await waitFor(
      async () => {
        const p = await readPod(ns.name, "fails");
        return p.status?.phase === "Failed" && p;
      },
      { what: "pod fails Failed" },
    );
    expect(p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(3);
    expect(condition(p, "Ready")?.status).toBe("False");
  });

  it("crash-loops a pod labelled sim.deepseek-operator.io/crash-loop, counting restarts", async () => {
    await core.createNamespacedPod({
      namespace: ns.name,
      body: pod("crashes", {
        labels: { [`${SIM}/crash-loop`]: "true" },
        annotations: { [`${SIM}/exit-code`]: "137", [`${SIM}/fail-after`]: "200ms", [`${SIM}/crash-backoff`]: "1s" },
      }),
    });
    const p = await waitFor(
      async () => {
        const p = await readPod(ns.name, "crashes");
        const cs = p.status?.containerStatuses?.[0];
        return (cs?.restartCount ?? 0) >= 2 && cs?.state?.waiting?.reason === "CrashLoopBackOff" && p;
      },
      { what: "pod crashes in CrashLoopBackOff with 2 restarts" },
    );
    const cs = p.status?.containerStatuses?.[0];
    expect(cs?.lastState?.terminated?.exitCode).toBe(137);
    expect(p.status?.phase).toBe("Running");
    expect(condition(p, "Ready")?.status).toBe("False");
  });

  it("removes a deleted pod, and leaves pods labelled sim.deepseek-operator.io/local to the local runner", async () => {
    await core.createNamespacedPod({
      namespace: ns.name,
      body: pod("local", { labels: { [`${SIM}/local`]: "true" } }),
    });
    await core.createNamespacedPod({ namespace: ns.name, body: pod("simulated") });
    await waitFor(async () => (await readPod(ns.name, "simulated")).status?.phase === "Running", {
      what: "pod simulated Running",
    });
    // Both were created together and both are scheduled, but kwok played no stage on the local one.
    const local = await waitFor(
      async () => {
        const p = await readPod(ns.name, "local");
        return condition(p, "PodScheduled")?.status === "True" && p;
      },
      { what: "pod local scheduled" },
    );
    expect(local.status?.phase).toBe("Pending");
    expect(local.status?.podIP).toBeUndefined();
    expect(local.status?.containerStatuses).toBeUndefined();

    await core.deleteNamespacedPod({ name: "simulated", namespace: ns.name });
    await core.deleteNamespacedPod({ name: "local", namespace: ns.name });
    await waitFor(async () => (await orNotFound(readPod(ns.name, "simulated"))) === undefined, {
      what: "pod simulated gone",
    });
    // kwok's pod-delete stage skips local pods: without a kubelet (or the local runner) it stays Terminating.
    const terminating = await readPod(ns.name, "local");
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    await core.deleteNamespacedPod({ name: "local", namespace: ns.name, gracePeriodSeconds: 0 });
    await waitFor(async () => (await orNotFound(readPod(ns.name, "local"))) === undefined, { what: "pod local gone" });
  });

  it("provisions and binds a PVC of the default StorageClass, and removes its volume after deletion", async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns.name,
      body: {
        metadata: { name: "weights" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "200Gi" } } },
      },
    });
    const pvc = await waitFor(
      async () => {
        const c = await core.readNamespacedPersistentVolumeClaim({ name: "weights", namespace: ns.name });
        return c.status?.phase === "Bound" && c;
      },
      { what: "PVC weights Bound" },
    );
    expect(pvc.spec?.storageClassName).toBe("kwok-volume");
    const pvName = pvc.spec?.volumeName ?? "";
    expect((await core.readPersistentVolume({ name: pvName })).spec?.capacity?.storage).toBe("200Gi");

    const withVolume = pod("mounts-weights");
    withVolume.spec!.volumes = [{ name: "weights", persistentVolumeClaim: { claimName: "weights" } }];
    withVolume.spec!.containers[0]!.volumeMounts = [{ name: "weights", mountPath: "/models" }];
    await core.createNamespacedPod({ namespace: ns.name, body: withVolume });
    await waitFor(async () => condition(await readPod(ns.name, "mounts-weights"), "Ready")?.status === "True", {
      what: "pod mounts-weights Ready",
    });

    await core.deleteNamespacedPod({ name: "mounts-weights", namespace: ns.name });
    await core.deleteNamespacedPersistentVolumeClaim({ name: "weights", namespace: ns.name });
    await waitFor(async () => (await orNotFound(core.readPersistentVolume({ name: pvName }))) === undefined, {
      what: `PV ${pvName} gone`,
      timeoutMs: 120_000,
    });
    expect(
      await orNotFound(core.readNamespacedPersistentVolumeClaim({ name: "weights", namespace: ns.name })),
    ).toBeUndefined();
  });

  it("reports only loopback node, pod and service IPs", async () => {
    const nodes = await core.listNode();
    const nodeIPs = nodes.items.flatMap((n) =>
      (n.status?.addresses ?? []).filter((a) => a.type.endsWith("IP")).map((a) => a.address),
    );
    const pods = await core.listPodForAllNamespaces();
    const podIPs = pods.items
      .flatMap((p) => [
        p.status?.podIP,
        p.status?.hostIP,
        ...(p.status?.podIPs ?? []).map((x) => x.ip),
        ...(p.status?.hostIPs ?? []).map((x) => x.ip),
      ])
      .filter((ip): ip is string => !!ip);
    const services = await core.listServiceForAllNamespaces();
    const clusterIPs = services.items.flatMap((s) => s.spec?.clusterIPs ?? []).filter((ip) => ip !== "None");
    expect(nodeIPs.length).toBeGreaterThan(0);
    expect(podIPs.length).toBeGreaterThan(0);
    expect(clusterIPs.length).toBeGreaterThan(0);
    for (const ip of [...nodeIPs, ...podIPs, ...clusterIPs])
      expect({ ip, loopback: inLoopback(ip) }).toEqual({ ip, loopback: true });
  });
});

describe("ServiceAccount credentials from the TokenRequest API", () => {
  const ns = useTestNamespace("e2e-rbac");
  let sa: ServiceAccountCredentials;
  let dir: string;
  let saKubeconfig: string;

  beforeAll(async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: {
        metadata: { name: "pod-reader" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name: "pod-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns.name }],
      },
    });
    sa = await mintServiceAccountKubeconfig({ namespace: ns.name, serviceAccount: "reader", expirationSeconds: 600 });
    dir = await mkdtemp(join(tmpdir(), "dso-e2e-"));
    saKubeconfig = join(dir, "kubeconfig");
    await sa.writeKubeconfig(saKubeconfig);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("authenticates as the ServiceAccount and is allowed what its Role grants", async () => {
    const asSa = sa.kubeConfig.makeApiClient(CoreV1Api);
    const pods = await waitFor(() => asSa.listNamespacedPod({ namespace: ns.name }), { what: "list pods as reader" });
    expect(pods.items).toEqual([]);
    const who = await kubectlOk(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"], {
      kubeconfig: saKubeconfig,
    });
    expect(who).toBe(`system:serviceaccount:${ns.name}:reader`);
  });

  it("is refused (403) for verbs and resources its Role does not grant", async () => {
    const asSa = sa.kubeConfig.makeApiClient(CoreV1Api);
    const refused = async (call: Promise<unknown>) => {
      try {
        await call;
        return "allowed";
      } catch (err) {
        return apiStatus(err);
      }
    };
    expect(await refused(asSa.createNamespacedPod({ namespace: ns.name, body: pod("nope") }))).toBe(403);
    expect(await refused(asSa.listNamespacedSecret({ namespace: ns.name }))).toBe(403);
    expect(await refused(asSa.listNode())).toBe(403);
    expect(await refused(asSa.listNamespacedPod({ namespace: "default" }))).toBe(403);
    const r = await kubectl(["create", "configmap", "nope", "--from-literal=a=b", "-n", ns.name], {
      kubeconfig: saKubeconfig,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("forbidden");
    const canI = await kubectl(["auth", "can-i", "delete", "pods", "-n", ns.name], { kubeconfig: saKubeconfig });
    expect(canI.stdout.trim()).toBe("no");
  });
});
