import { describe, expect, it } from "@jest/globals";
import { slimNode, slimPod, stripJob } from "./informers.ts";
import { summarizeInventory } from "../reconcile/gpu-inventory.ts";
import { nodeCapacityChanged } from "./mappers.ts";

describe("the Job cache", () => {
  it("keeps what the reconciler reads of a Job (metadata, status) and drops its pod template and managed fields", () => {
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: "w-pull",
        namespace: "team",
        uid: "u1",
        labels: { a: "b" },
        ownerReferences: [{ uid: "pvc" }],
        managedFields: [{ manager: "x" }],
      },
      spec: { backoffLimit: 0, template: { spec: { containers: [{ name: "pull", args: ["weights", "pull"] }] } } },
      status: { active: 1, conditions: [{ type: "Failed", status: "True", message: "401" }] },
    };
    stripJob(job as never);
    expect(job).toEqual({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "w-pull", namespace: "team", uid: "u1", labels: { a: "b" }, ownerReferences: [{ uid: "pvc" }] },
      spec: { backoffLimit: 0 },
      status: { active: 1, conditions: [{ type: "Failed", status: "True", message: "401" }] },
    });
  });
});

const H200 = {
  id: "H200",
  resourceName: "nvidia.com/gpu",
  nodeLabel: { key: "nvidia.com/gpu.product", value: "NVIDIA-H200" },
};

function fullNode(name: string, gpus: string) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      uid: `u-${name}`,
      resourceVersion: "7",
      labels: { "nvidia.com/gpu.product": "NVIDIA-H200" },
      annotations: { "node.alpha.kubernetes.io/ttl": "0" },
      managedFields: [{ manager: "kubelet" }],
    },
    spec: {
      podCIDR: "10.0.0.0/24",
      unschedulable: false as boolean,
      taints: [{ key: "nvidia.com/gpu", effect: "NoSchedule" }],
    },
    status: {
      allocatable: { "nvidia.com/gpu": gpus, cpu: "64" },
      capacity: { "nvidia.com/gpu": gpus },
      images: [{ names: ["vllm/vllm-openai:latest"], sizeBytes: 1e10 }],
      conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: "2026-01-01T00:00:00Z" }],
    },
  };
}

function fullPod(name: string, nodeName: string, gpus: string) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "other-team", uid: `u-${name}`, resourceVersion: "9", labels: { app: "x" } },
    spec: {
      nodeName,
      containers: [
        { name: "c", image: "i", env: [{ name: "A", value: "1" }], resources: { limits: { "nvidia.com/gpu": gpus } } },
      ],
    },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }], podIP: "127.0.0.2" },
  };
}

describe("the GPU inventory's caches", () => {
  it("keep of a Node only its identity, labels, unschedulable and allocatable", () => {
    const n = fullNode("gpu-1", "8");
    slimNode(n as never);
    expect(n).toEqual({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: "gpu-1",
        uid: "u-gpu-1",
        resourceVersion: "7",
        labels: { "nvidia.com/gpu.product": "NVIDIA-H200" },
        namespace: undefined,
      },
      spec: { unschedulable: false },
      status: { allocatable: { "nvidia.com/gpu": "8", cpu: "64" } },
    });
  });

  it("keep of a pod only what the inventory reads, and the inventory is the same as from the full objects", () => {
    const nodes = [fullNode("gpu-1", "8"), fullNode("gpu-2", "8")];
    const pods = [fullPod("a", "gpu-1", "4"), fullPod("b", "gpu-1", "2"), fullPod("c", "gpu-2", "8")];
    const before = summarizeInventory(H200, nodes, pods);
    const slimmed = structuredClone({ nodes, pods });
    slimmed.nodes.forEach((n) => slimNode(n as never));
    slimmed.pods.forEach((p) => slimPod(p as never));
    expect(summarizeInventory(H200, slimmed.nodes, slimmed.pods)).toEqual(before);
    expect(before).toMatchObject({ total: 16, free: 2 });
    expect(slimmed.pods[0]).toEqual({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "a", namespace: "other-team", uid: "u-a", resourceVersion: "9" },
      spec: { nodeName: "gpu-1", containers: [{ resources: { limits: { "nvidia.com/gpu": "4" } } }] },
      status: { phase: "Running" },
    });
  });

  it("a slimmed Node still shows every change that matters for capacity, and none that does not", () => {
    const slim = (n: ReturnType<typeof fullNode>) => {
      const c = structuredClone(n);
      slimNode(c as never);
      return c;
    };
    const old = fullNode("gpu-1", "8");
    const heartbeat = { ...fullNode("gpu-1", "8"), metadata: { ...old.metadata, resourceVersion: "8" } };
    heartbeat.status.conditions[0]!.lastHeartbeatTime = "2026-01-01T00:01:00Z";
    expect(nodeCapacityChanged(slim(heartbeat) as never, "update", slim(old) as never)).toBe(false);
    const cordoned = { ...fullNode("gpu-1", "8"), spec: { ...old.spec, unschedulable: true } };
    expect(nodeCapacityChanged(slim(cordoned) as never, "update", slim(old) as never)).toBe(true);
    expect(nodeCapacityChanged(slim(fullNode("gpu-1", "4")) as never, "update", slim(old) as never)).toBe(true);
  });
});
