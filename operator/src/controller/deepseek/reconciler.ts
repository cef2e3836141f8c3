// Executes decide()'s actions against the apiserver. Order matters: the finalizer goes on before
// any child exists (so a deletion can never skip cleanup), and comes off only after cleanup.
import type { DeepSeekDeployment, DeepSeekDeploymentStatus } from "../../api/index.ts";
import { FINALIZER, weightsPvcName, type Dsd, type KubeObject } from "../../render/index.ts";
import type { Obj, Observed } from "./observed.ts";
import type { Logger } from "../../util/log.ts";
import { decide, type ObjectRef } from "./decide.ts";
import type { EventSpec } from "../runtime/events.ts";
import { observe, withDefaults, type ObserveContext } from "./observe.ts";

export interface Writer {
  /** Server-side apply; resolves to the object as the apiserver stored it. */
  apply(obj: KubeObject): Promise<KubeObject>;
  delete(ref: ObjectRef): Promise<void>;
  applyStatus(dsd: Dsd, status: DeepSeekDeploymentStatus): Promise<void>;
  setFinalizer(dsd: Dsd, present: boolean): Promise<void>;
  /** The weights PVC and the namespace's deployments read from the apiserver, bypassing the cache. */
  readFresh(namespace: string, pvcName: string): Promise<{ pvc: Obj | undefined; dsds: DeepSeekDeployment[] }>;
  /** Recorded asynchronously; recording never fails a reconcile. */
  event(dsd: Dsd, e: EventSpec): void;
}

/**
 * Children are applied in waves: storage, then identities and the Service, then the binding (the
 * apiserver's escalation check reads the Role, so it must exist first), then the workloads that use
 * them. Within a wave the writes are independent and go out together.
 */
const WAVES = [["PersistentVolumeClaim"], ["ServiceAccount", "Role", "Service"], ["RoleBinding"], ["Job", "Deployment", "LeaderWorkerSet", "PodDisruptionBudget"]];
const waveOf = (o: KubeObject) => {
  const i = WAVES.findIndex((w) => w.includes(o.kind));
  return i < 0 ? WAVES.length : i;
};

/**
 * The status this process last wrote, per object: the informer may deliver our own write a moment
 * after the next reconcile starts, and deciding from the older status would repeat a phase change
 * (and its Event). While the cache still shows the resourceVersion we wrote over, ours is newer.
 */
const written = new Map<string, { over: string | undefined; status: DeepSeekDeploymentStatus }>();

function latest(dsd: Dsd): Dsd {
  const w = written.get(dsd.metadata.uid);
  const rv = dsd.metadata.resourceVersion;
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
    observed = { ...observed, pvc: fresh.pvc, sharingWeights: fresh.dsds.map(withDefaults) };
  }
  observed = { ...observed, dsd: latest(observed.dsd) };
  let d = await execute(observed, writer, log);
  // A new weights PVC: its uid (which the download Job's owner reference needs) is in the apply
  // response, so the Job can be created now instead of after the cache catches up.
  if (d.createdPvc) d = await execute(withStored({ ...observed, dsd: d.dsd }, d.stored), writer, log);
  return d.requeueAfterMs ? { requeueAfterMs: d.requeueAfterMs } : {};
}

/** One decide-and-execute pass; returns the decision, the deployment as it now stands and a PVC it created. */
async function execute(observed: Observed, writer: Writer, log: Logger) {
  const d = decide(observed);
  let dsd = observed.dsd;
  let createdPvc: Obj | undefined;
  const stored: Obj[] = [];
  if (d.finalizer === "add") {
    await writer.setFinalizer(dsd, true);
    dsd = { ...dsd, metadata: { ...dsd.metadata, finalizers: [...(dsd.metadata.finalizers ?? []), FINALIZER] } };
  }
  for (let wave = 0; wave <= WAVES.length; wave++) {
    const objs = d.apply.filter((o) => waveOf(o) === wave);
    const lives = (await Promise.all(objs.map((obj) => {
      log.debug({ kind: obj.kind, child: obj.metadata.name }, "apply");
      return writer.apply(obj);
    }))) as Obj[];
    stored.push(...lives);
  }
  const pvc = stored.find((o) => o.kind === "PersistentVolumeClaim");
  if (pvc && !observed.pvc && !dsd.metadata.deletionTimestamp) createdPvc = pvc;
  for (const ref of d.delete) {
    log.info({ kind: ref.kind, child: ref.name }, "delete child no longer desired");
    await writer.delete(ref);
  }
  if (d.status && !dsd.metadata.deletionTimestamp) {
    await writer.applyStatus(dsd, d.status);
    written.set(dsd.metadata.uid, { over: dsd.metadata.resourceVersion, status: d.status });
    if (d.status.phase !== dsd.status?.phase) log.info({ from: dsd.status?.phase, to: d.status.phase }, "phase changed");
    dsd = { ...dsd, status: d.status };
  }
  for (const e of d.events) writer.event(dsd, e);
  if (d.finalizer === "remove") {
    await writer.setFinalizer(dsd, false);
    written.delete(dsd.metadata.uid);
  }
  return { requeueAfterMs: d.requeueAfterMs, dsd, createdPvc, stored };
}

/** What a pass applied, as the next pass's view of those children (the cache has not seen them yet). */
function withStored(o: Observed, stored: Obj[]): Observed {
  const byKind = (kind: string) => stored.find((s) => s.kind === kind);
  return {
    ...o,
    pvc: byKind("PersistentVolumeClaim") ?? o.pvc,
    service: byKind("Service") ?? o.service,
    deployment: byKind("Deployment") ?? o.deployment,
    lws: byKind("LeaderWorkerSet") ?? o.lws,
    pdb: byKind("PodDisruptionBudget") ?? o.pdb,
  };
}
