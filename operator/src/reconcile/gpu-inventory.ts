// How many GPUs of a type the cluster has and how many are free. Free capacity needs every pod's
// GPU requests, not just ours: the operator watches every bound, unfinished pod of the cluster and
// caches only what gpuFacts keeps of each (controller/informers.ts).
import type { GpuInventory } from "./status.ts";

export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { allocatable?: Record<string, string> };
}

export interface PodLike {
  spec?: {
    nodeName?: string;
    containers?: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
  };
  status?: { phase?: string };
}

/** The part of a pod the inventory reads (a copy, so the rest of the listed pod can be collected). */
export function gpuFacts(pod: PodLike): PodLike {
  const containers = (pod.spec?.containers ?? []).map((c) => ({
    resources: {
      ...(c.resources?.requests ? { requests: c.resources.requests } : {}),
      ...(c.resources?.limits ? { limits: c.resources.limits } : {}),
    },
  }));
  return {
    spec: { ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}), containers },
    status: { ...(pod.status?.phase ? { phase: pod.status.phase } : {}) },
  };
}

export interface GpuType {
  id: string;
  resourceName: string;
  nodeLabel: { key: string; value: string };
}

export type Inventory = GpuInventory & { largestFreeBlock: number };

function gpuRequest(pod: PodLike, resource: string): number {
  return (pod.spec?.containers ?? []).reduce(
    (n, c) => n + Number(c.resources?.limits?.[resource] ?? c.resources?.requests?.[resource] ?? 0),
    0,
  );
}

/** Pure: GPUs of one type on schedulable nodes, minus what bound, unfinished pods request there. */
export function summarizeInventory(
  gpu: GpuType,
  nodes: readonly NodeLike[],
  pods: readonly PodLike[] | undefined,
): Inventory {
  const matching = nodes.filter(
    (n) => n.metadata?.labels?.[gpu.nodeLabel.key] === gpu.nodeLabel.value && !n.spec?.unschedulable,
  );
  const used = new Map<string, number>();
  for (const p of pods ?? []) {
    const node = p.spec?.nodeName;
    if (!node || p.status?.phase === "Succeeded" || p.status?.phase === "Failed") continue;
    used.set(node, (used.get(node) ?? 0) + gpuRequest(p, gpu.resourceName));
  }
  let total = 0;
  let free = 0;
  let largestFreeBlock = 0;
  for (const n of matching) {
    const cap = Number(n.status?.allocatable?.[gpu.resourceName] ?? 0);
    const f = Math.max(0, cap - (used.get(n.metadata?.name ?? "") ?? 0));
    total += cap;
    free += f;
    largestFreeBlock = Math.max(largestFreeBlock, f);
  }
  return {
    gpuType: gpu.id,
    nodes: matching.length,
    total,
    ...(pods ? { free } : {}),
    largestFreeBlock: pods ? largestFreeBlock : 0,
  };
}
