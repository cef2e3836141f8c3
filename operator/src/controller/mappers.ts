// Which DeepSeekDeployments an event on another object concerns.
import type { KubernetesObject } from "@kubernetes/client-node";
import { GROUP, KIND } from "../api/index.ts";
import { LABEL } from "../render/index.ts";
import { ownerKeyMapper, type KeyMapper } from "./runtime/handlers.ts";
import { key } from "./runtime/keys.ts";
import type { Cache } from "./deepseek/observe.ts";

const isDsdRef = (r: { apiVersion: string; kind: string }) => r.kind === KIND && r.apiVersion.startsWith(`${GROUP}/`);

/** Children with a controller reference to a DeepSeekDeployment. */
export const controllerOwner: KeyMapper = ownerKeyMapper({ group: GROUP, kind: KIND });

/** A shared weights PVC: every DeepSeekDeployment listed among its owners uses it. */
export const everyOwner: KeyMapper = (obj) =>
  (obj.metadata?.ownerReferences ?? []).filter(isDsdRef).map((r) => key(obj.metadata?.namespace, r.name));

/** A download Job belongs to its PVC; the PVC's owners are the deployments waiting on it. */
export function jobOwners(pvcs: Pick<Cache<unknown>, "get">): KeyMapper {
  return (job) => {
    const direct = controllerOwner(job);
    if (direct.length > 0) return direct;
    const pvcName = job.metadata?.labels?.[LABEL.weights];
    const pvc = pvcName ? pvcs.get(job.metadata?.namespace, pvcName) : undefined;
    return pvc ? everyOwner(pvc) : [];
  };
}

/** Engine pods carry their deployment's name in the instance label. */
export const podInstance: KeyMapper = (pod) => {
  const name = pod.metadata?.labels?.[LABEL.instance];
  return name ? [key(pod.metadata?.namespace, name)] : [];
};

/** Node changes that matter for GPU capacity; heartbeats do not. */
export function nodeCapacityChanged(obj: KubernetesObject, type: string, old?: KubernetesObject): boolean {
  if (type !== "update" || !old) return type !== "resync";
  const view = (n: KubernetesObject) => {
    const x = n as {
      metadata?: { labels?: unknown };
      spec?: { unschedulable?: unknown };
      status?: { allocatable?: unknown };
    };
    return JSON.stringify([x.metadata?.labels, x.spec?.unschedulable, x.status?.allocatable]);
  };
  return view(obj) !== view(old);
}
