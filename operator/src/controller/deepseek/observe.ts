// Read one DeepSeekDeployment's world from the informer caches into the plain data decide() takes.
import { parseSpec, type DeepSeekDeployment } from "../../api/index.ts";
import {
  DEFAULT_TOKEN_POLICY,
  imagePolicyError,
  LABEL,
  tokenPolicyError,
  weightsPvcName,
  type Dsd,
} from "../../render/index.ts";
import { summarizeInventory, type NodeLike, type PodLike } from "../../reconcile/gpu-inventory.ts";
import { resolveGpu } from "../../planner/catalog.ts";
import type { Obj, Observed, Pod } from "../../reconcile/observed.ts";
import type { JobConfig } from "../../render/index.ts";

export interface Cache<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): T[];
}

export interface Caches {
  dsds: Cache<DeepSeekDeployment>;
  pvcs: Cache<Obj>;
  jobs: Cache<Obj>;
  deployments: Cache<Obj>;
  lws?: Cache<Obj>;
  services: Cache<Obj>;
  pdbs: Cache<Obj>;
  hpas?: Cache<Obj>;
  scaledObjects?: Cache<Obj>;
  pods: Cache<Pod>;
  nodes: Cache<NodeLike>;
}

export interface ObserveContext {
  caches: Caches;
  lwsServed: () => boolean;
  kedaServed?: () => boolean;
  /** The latest cluster-wide pod snapshot for GPU accounting, if one was taken. */
  gpuPods: () => readonly PodLike[] | undefined;
  jobs: JobConfig;
  now: () => Date;
}

const parsedOnce = new WeakMap<object, { dsd: Dsd; errors?: string }>();

/**
 * The spec with defaults applied (objects from the apiserver already have them; old ones may not),
 * and what the schema refuses in it. Memoized per cached object: informers replace the object on
 * every change, so identity is the key, and a steady reconcile parses nothing.
 */
function parseOnce(dsd: DeepSeekDeployment): { dsd: Dsd; errors?: string } {
  const hit = parsedOnce.get(dsd);
  if (hit) return hit;
  const parsed = parseSpec(dsd.spec);
  const out = parsed.ok
    ? { dsd: { ...dsd, spec: parsed.value } as Dsd }
    : { dsd: dsd as Dsd, errors: parsed.errors.map((e) => e.message).join("; ") };
  parsedOnce.set(dsd, out);
  return out;
}

export const withDefaults = (dsd: DeepSeekDeployment): Dsd => parseOnce(dsd).dsd;

/** Deployments of the namespace that share this one's weights PVC (same model, revision and source). */
function sameWeights(dsd: Dsd, all: DeepSeekDeployment[], pvcName: string): Dsd[] {
  const { name: model, revision } = dsd.spec.model;
  return all
    .filter((d) => (d.spec?.model?.name ?? model) === model && d.spec?.model?.revision === revision)
    .map(withDefaults)
    .filter((d) => weightsPvcName(d) === pvcName);
}

/**
 * Weights PVCs that still list this deployment as an owner but are not the one it uses now, each
 * with the deployments that use it now.
 */
function formerPvcs(dsd: Dsd, pvcs: Obj[], all: DeepSeekDeployment[], pvcName: string): Observed["formerPvcs"] {
  const uid = dsd.metadata.uid;
  const former = pvcs.filter(
    (p) => p.metadata.name !== pvcName && (p.metadata.ownerReferences ?? []).some((r) => r.uid === uid),
  );
  if (former.length === 0) return [];
  const byPvc = new Map<string, Dsd[]>();
  for (const d of all.map(withDefaults)) {
    if (d.spec.model.source.pvc) continue;
    const n = weightsPvcName(d);
    byPvc.set(n, [...(byPvc.get(n) ?? []), d]);
  }
  return former.map((pvc) => ({ pvc, users: byPvc.get(pvc.metadata.name) ?? [] }));
}

export function observe(ctx: ObserveContext, namespace: string, name: string): Observed | undefined {
  const c = ctx.caches;
  const raw = c.dsds.get(namespace, name);
  if (!raw) return undefined;
  const parsed = parseOnce(raw);
  const dsd = parsed.dsd;
  // Where the token may go is the operator's configuration, not the schema's: checked here, reported
  // like a spec error (PlanValid=False naming the field) and nothing is created.
  const errors =
    parsed.errors ??
    tokenPolicyError(dsd.spec, ctx.jobs.tokenPolicy ?? DEFAULT_TOKEN_POLICY) ??
    imagePolicyError(dsd.spec, ctx.jobs.allowedImagePrefixes ?? []);
  const pvcName = weightsPvcName(dsd);
  const all = c.dsds.list(namespace);
  const pods = c.pods.list(namespace).filter((p) => p.metadata.labels?.[LABEL.instance] === name);
  let gpus: Observed["gpus"];
  try {
    const g = resolveGpu(dsd.spec.gpu.type);
    gpus = summarizeInventory(
      { id: g.id, resourceName: g.resourceName, nodeLabel: { key: g.nodeLabel.key, value: g.nodeLabel.values[0]! } },
      c.nodes.list(),
      ctx.gpuPods(),
    );
  } catch {
    gpus = undefined; // an unknown GPU type is reported by the planner
  }
  return {
    now: ctx.now(),
    dsd,
    ...(errors ? { specErrors: errors } : {}),
    sharingWeights: sameWeights(dsd, all, pvcName),
    pvc: dsd.spec.model.source.pvc ? undefined : c.pvcs.get(namespace, pvcName),
    pullJob: c.jobs.get(namespace, `${pvcName}-pull`),
    verifyJobs: dsd.spec.model.source.pvc
      ? c.jobs
          .list(namespace)
          .filter(
            (j) => j.metadata.labels?.[LABEL.instance] === name && j.metadata.labels?.[LABEL.component] === "weights",
          )
      : [],
    formerPvcs: formerPvcs(dsd, c.pvcs.list(namespace), all, pvcName),
    deployment: c.deployments.get(namespace, name),
    lws: c.lws?.get(namespace, name),
    service: c.services.get(namespace, name),
    pdb: c.pdbs.get(namespace, name),
    hpa: c.hpas?.get(namespace, name),
    scaledObject: c.scaledObjects?.get(namespace, name),
    kedaServed: ctx.kedaServed?.() ?? false,
    pods,
    lwsServed: ctx.lwsServed(),
    ...(gpus ? { gpus } : {}),
    jobs: ctx.jobs,
  };
}
