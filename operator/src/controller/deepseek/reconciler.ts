// Executes decide()'s actions against the apiserver. Order matters: the finalizer goes on before
// any child exists (so a deletion can never skip cleanup), and comes off only after cleanup.
import type { DeepSeekDeployment, DeepSeekDeploymentStatus } from "../../api/index.ts";
import { weightsPvcName, type Dsd, type KubeObject } from "../../render/index.ts";
import type { Obj } from "./observed.ts";
import type { Logger } from "../../util/log.ts";
import { decide, type ObjectRef } from "./decide.ts";
import type { EventSpec } from "../runtime/events.ts";
import { observe, withDefaults, type ObserveContext } from "./observe.ts";

export interface Writer {
  apply(obj: KubeObject): Promise<void>;
  delete(ref: ObjectRef): Promise<void>;
  applyStatus(dsd: Dsd, status: DeepSeekDeploymentStatus): Promise<void>;
  setFinalizer(dsd: Dsd, present: boolean): Promise<void>;
  /** The weights PVC and the namespace's deployments read from the apiserver, bypassing the cache. */
  readFresh(namespace: string, pvcName: string): Promise<{ pvc: Obj | undefined; dsds: DeepSeekDeployment[] }>;
  /** Recorded asynchronously; recording never fails a reconcile. */
  event(dsd: Dsd, e: EventSpec): void;
}

/** Children go first in this order: identities and storage before the workloads that use them. */
const KIND_ORDER = ["PersistentVolumeClaim", "ServiceAccount", "Role", "RoleBinding", "Job", "Service", "Deployment", "LeaderWorkerSet", "PodDisruptionBudget"];
const rank = (o: KubeObject) => {
  const i = KIND_ORDER.indexOf(o.kind);
  return i < 0 ? KIND_ORDER.length : i;
};

/**
 * The status this process last wrote, per object: the informer may deliver our own write a moment
 * after the next reconcile starts, and deciding from the older status would repeat a phase change
 * (and its Event). While the cache still shows the resourceVersion we wrote over, ours is newer.
 */
const written = new Map<string, { over: string | undefined; status: DeepSeekDeploymentStatus }>();

function latest(dsd: Dsd): Dsd {
  const w = written.get(dsd.metadata.uid);
  const rv = (dsd.metadata as { resourceVersion?: string }).resourceVersion;
  return w && w.over === rv ? { ...dsd, status: w.status } : dsd;
}

export async function reconcileDeepSeekDeployment(
  ctx: ObserveContext,
  writer: Writer,
  namespace: string,
  name: string,
  log: Logger,
): Promise<{ requeueAfterMs?: number }> {
  let observed = observe(ctx, namespace, name);
  if (!observed) return {};
  if (observed.dsd.metadata.deletionTimestamp && !observed.dsd.spec.model.source.pvc) {
    // Releasing the shared PVC must not act on a stale cache (see finalize in decide.ts).
    const fresh = await writer.readFresh(namespace, weightsPvcName(observed.dsd));
    observed = { ...observed, pvc: fresh.pvc, namespaceDsds: fresh.dsds.map(withDefaults) };
  }
  observed = { ...observed, dsd: latest(observed.dsd) };
  const d = decide(observed);
  const dsd = observed.dsd;

  if (d.finalizer === "add") await writer.setFinalizer(dsd, true);
  for (const obj of [...d.apply].sort((a, b) => rank(a) - rank(b))) {
    log.debug({ kind: obj.kind, child: obj.metadata.name }, "apply");
    await writer.apply(obj);
  }
  for (const ref of d.delete) {
    log.info({ kind: ref.kind, child: ref.name }, "delete child no longer desired");
    await writer.delete(ref);
  }
  if (d.status && !dsd.metadata.deletionTimestamp) {
    await writer.applyStatus(dsd, d.status);
    written.set(dsd.metadata.uid, { over: (dsd.metadata as { resourceVersion?: string }).resourceVersion, status: d.status });
  }
  if (dsd.metadata.deletionTimestamp && d.finalizer === "remove") written.delete(dsd.metadata.uid);
  for (const e of d.events) writer.event(dsd, e);
  if (d.finalizer === "remove") await writer.setFinalizer(dsd, false);
  if (d.status?.phase !== dsd.status?.phase && d.status) log.info({ from: dsd.status?.phase, to: d.status.phase }, "phase changed");
  return d.requeueAfterMs ? { requeueAfterMs: d.requeueAfterMs } : {};
}

