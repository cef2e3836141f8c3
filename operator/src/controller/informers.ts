// The informers the operator runs: its own kind, every kind it owns (selected by the part-of label,
// so the caches hold only our objects), the engine pods, and for the GPU inventory the nodes and every
// bound, unfinished pod of the cluster, both cut down to the few fields the inventory reads.
import type { KubeConfig } from "@kubernetes/client-node";
import { Watch, type KubernetesObject } from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION, type DeepSeekDeployment } from "../api/index.ts";
import { LABEL } from "../render/index.ts";
import type { Logger } from "../util/log.ts";
import type { ApplyClient } from "./runtime/apply.ts";
import { Informer, resourcePath, stripManagedFields, type ResourceRef } from "./runtime/informer.ts";
import { internStrings } from "./runtime/intern.ts";
import type { OperatorMetrics } from "./runtime/metrics.ts";
import type { Caches } from "./deepseek/observe.ts";
import type { Obj, Pod } from "../reconcile/observed.ts";
import { gpuFacts, type NodeLike, type PodLike } from "../reconcile/gpu-inventory.ts";

const OURS = `${LABEL.partOf}=deepseek-operator`;
const ENGINE_PODS = `${LABEL.component}=engine,${LABEL.name}=deepseek-engine`;

export interface InformerSet {
  dsds: Informer<DeepSeekDeployment & KubernetesObject>[];
  pvcs: Informer<Obj & KubernetesObject>[];
  jobs: Informer<Obj & KubernetesObject>[];
  deployments: Informer<Obj & KubernetesObject>[];
  lws: Informer<Obj & KubernetesObject>[];
  services: Informer<Obj & KubernetesObject>[];
  pdbs: Informer<Obj & KubernetesObject>[];
  hpas: Informer<Obj & KubernetesObject>[];
  scaledObjects: Informer<Obj & KubernetesObject>[];
  pods: Informer<Pod & KubernetesObject>[];
  nodes: Informer<NodeLike & KubernetesObject>[];
  /** Every pod bound to a node and not finished, cluster-wide, as the GPU inventory reads it. */
  gpuPods: Informer<PodLike & KubernetesObject>[];
}

/** A cache over one informer per watched namespace (or one cluster-wide informer). */
function cacheOf<T extends KubernetesObject>(informers: Informer<T>[]) {
  return {
    get: (ns: string | undefined, name: string) => {
      for (const i of informers) {
        const v = i.get(ns, name);
        if (v) return v;
      }
      return undefined;
    },
    list: (ns?: string) => informers.flatMap((i) => i.list(ns)),
  };
}

export function cachesOf(s: InformerSet): Caches {
  return {
    dsds: cacheOf(s.dsds),
    pvcs: cacheOf(s.pvcs),
    jobs: cacheOf(s.jobs),
    deployments: cacheOf(s.deployments),
    lws: cacheOf(s.lws),
    services: cacheOf(s.services),
    pdbs: cacheOf(s.pdbs),
    hpas: cacheOf(s.hpas),
    scaledObjects: cacheOf(s.scaledObjects),
    pods: cacheOf(s.pods),
    nodes: cacheOf(s.nodes),
  };
}

export interface InformerDeps {
  kc: KubeConfig;
  client: ApplyClient;
  namespaces: string[];
  lwsServed: boolean;
  kedaServed?: boolean;
  metrics: OperatorMetrics;
  log: Logger;
}

export function makeInformers(d: InformerDeps): InformerSet {
  const watch = new Watch(d.kc);
  const scopes = d.namespaces.length > 0 ? d.namespaces : [undefined];
  const make = <T extends KubernetesObject>(
    name: string,
    ref: Omit<ResourceRef, "namespace">,
    labelSelector?: string,
    namespaced = true,
    transform: (o: T) => void = compact,
    fieldSelector?: string,
  ): Informer<T>[] =>
    (namespaced ? scopes : [undefined]).map((namespace) => {
      const path = resourcePath({ ...ref, ...(namespace ? { namespace } : {}) });
      return new Informer<T>({
        name: namespace ? `${name}/${namespace}` : name,
        path,
        list: (opts) => d.client.listPath<T>(path, opts),
        watch,
        ...(labelSelector ? { labelSelector } : {}),
        ...(fieldSelector ? { fieldSelector } : {}),
        transform,
        metrics: d.metrics,
        log: d.log,
      });
    });
  return {
    dsds: make("deepseekdeployments", { group: GROUP, version: VERSION, plural: PLURAL }),
    pvcs: make("persistentvolumeclaims", { version: "v1", plural: "persistentvolumeclaims" }, OURS),
    jobs: make("jobs", { group: "batch", version: "v1", plural: "jobs" }, OURS, true, stripJob),
    deployments: make("deployments", { group: "apps", version: "v1", plural: "deployments" }, OURS),
    lws: d.lwsServed
      ? make("leaderworkersets", { group: "leaderworkerset.x-k8s.io", version: "v1", plural: "leaderworkersets" }, OURS)
      : [],
    services: make("services", { version: "v1", plural: "services" }, OURS),
    pdbs: make("poddisruptionbudgets", { group: "policy", version: "v1", plural: "poddisruptionbudgets" }, OURS),
    hpas: make(
      "horizontalpodautoscalers",
      { group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers" },
      OURS,
    ),
    scaledObjects: d.kedaServed
      ? make("scaledobjects", { group: "keda.sh", version: "v1alpha1", plural: "scaledobjects" }, OURS)
      : [],
    pods: make("pods", { version: "v1", plural: "pods" }, ENGINE_PODS),
    nodes: make("nodes", { version: "v1", plural: "nodes" }, undefined, false, slimNode),
    // A watch instead of a periodic LIST of every pod: the apiserver serves it from its watch cache and
    // sends only changes, where a LIST of a large cluster's pods every minute came from etcd in full.
    gpuPods: make("gpu-pods", { version: "v1", plural: "pods" }, undefined, false, slimPod, BOUND_UNFINISHED),
  };
}

/** Pods that hold a node's resources; a pod that finishes leaves the watch as a deletion. */
const BOUND_UNFINISHED = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed";

/** Keep only what identifies the object in the cache and what `keep` returns; in place (see Informer.transform). */
function reduceTo(obj: KubernetesObject, keep: Record<string, unknown>): void {
  const { name, namespace, uid, resourceVersion, labels } = obj.metadata ?? {};
  const o = obj as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== "apiVersion" && k !== "kind") delete o[k];
  Object.assign(o, { metadata: { name, namespace, uid, resourceVersion, ...(labels ? { labels } : {}) } }, keep);
  internStrings(obj);
}

/**
 * A Node as the GPU inventory and nodeCapacityChanged read it: name, labels, unschedulable,
 * allocatable. The rest (images, conditions, addresses, managed fields) is most of a Node.
 */
export function slimNode<T extends KubernetesObject>(node: T): void {
  const n = node as NodeLike;
  const unschedulable = n.spec?.unschedulable;
  const allocatable = n.status?.allocatable;
  reduceTo(node, {
    spec: unschedulable === undefined ? {} : { unschedulable },
    status: allocatable ? { allocatable } : {},
  });
}

/** A pod as the GPU inventory reads it (gpuFacts: node, phase, containers' requests and limits), without labels. */
export function slimPod<T extends KubernetesObject>(pod: T): void {
  const facts = gpuFacts(pod as PodLike);
  reduceTo(pod, facts as Record<string, unknown>);
  if (pod.metadata) delete pod.metadata.labels;
}

/** Managed fields go (nothing reads them); repeated strings are shared (runtime/intern.ts). */
function compact<T extends KubernetesObject>(obj: T): void {
  stripManagedFields(obj);
  internStrings(obj);
}

/**
 * Jobs are read for their status only (a Job's pod template is immutable and applied once, when the
 * Job is missing), and the template is most of a Job's size in the cache.
 */
export function stripJob<T extends KubernetesObject>(job: T): void {
  const spec = (job as { spec?: { template?: unknown } }).spec;
  if (spec) delete spec.template;
  compact(job);
}

export function allInformers(s: InformerSet): Informer<KubernetesObject>[] {
  return Object.values(s).flat() as Informer<KubernetesObject>[];
}
