// Executes decide()'s actions against the apiserver. Order matters: the finalizer goes on before
// any child exists (so a deletion can never skip cleanup), and comes off only after cleanup.
import type { DeepSeekDeployment, DeepSeekDeploymentStatus } from "../../api/index.ts";
import { FINALIZER, weightsPvcName, type Dsd, type KubeObject } from "../../render/index.ts";
import type { Obj, Observed } from "../../reconcile/observed.ts";
import type { Logger } from "../../util/log.ts";
import { decide, equalStatus, type Decision, type ObjectRef } from "../../reconcile/decide.ts";
import { withWriteFailure, type WriteFailure } from "../../reconcile/status.ts";
import { CONDITION } from "../../reconcile/conditions.ts";
import { KubeApiError, describeRef } from "../runtime/errors.ts";
import type { EventSpec } from "../runtime/events.ts";
import { observe, withDefaults, type ObserveContext } from "./observe.ts";

export interface Writer {
  /** Server-side apply; resolves to the object as the apiserver stored it. */
  apply(obj: KubeObject): Promise<KubeObject>;
  delete(ref: ObjectRef): Promise<void>;
  applyStatus(dsd: Dsd, status: DeepSeekDeploymentStatus): Promise<void>;
  setFinalizer(dsd: Dsd, present: boolean): Promise<void>;
  /** The weights PVC and the deployments of the same model and revision, read from the apiserver (not the cache). */
  readFresh(
    namespace: string,
    pvcName: string,
    model: { name: string; revision: string },
  ): Promise<{ pvc: Obj | undefined; dsds: DeepSeekDeployment[] }>;
  /** Recorded asynchronously; recording never fails a reconcile. */
  event(dsd: Dsd, e: EventSpec): void;
}

/**
 * Children are applied in waves, each one round trip on a reconcile's critical path, so only a real
 * dependency makes a wave: storage and the Service first (the download identities are owned by the
 * PVC and need its uid); then the identities; then what needs them: the RoleBinding (the apiserver's
 * escalation check reads the Role, so it must exist) and the workloads (a Job's pods are refused
 * while their ServiceAccount does not exist). Within a wave the writes go out together.
 */
const WAVES = [
  ["PersistentVolumeClaim", "Service"],
  ["ServiceAccount", "Role"],
  ["RoleBinding", "Job", "Deployment", "LeaderWorkerSet", "PodDisruptionBudget"],
];
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
  if (!w) return dsd;
  if (w.over === dsd.metadata.resourceVersion) return { ...dsd, status: w.status };
  // The cache has moved past our write: the entry has served, and keeping it would hold a second copy
  // of every status in the cache.
  written.delete(dsd.metadata.uid);
  return dsd;
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
    const fresh = await writer.readFresh(namespace, weightsPvcName(observed.dsd), observed.dsd.spec.model);
    observed = { ...observed, pvc: fresh.pvc, sharingWeights: fresh.dsds.map(withDefaults) };
  }
  observed = { ...observed, dsd: latest(observed.dsd) };
  let d = decide(observed);
  // A new weights PVC: its uid (which the download Job's owner reference needs) is in the apply
  // response, so the Job is created in a second pass of this reconcile, without waiting for the cache.
  // That pass decides again from more facts, so the first one's status and Events are not sent:
  // one status write and one set of Events per reconcile.
  const createsPvc =
    !observed.pvc &&
    !observed.dsd.metadata.deletionTimestamp &&
    d.apply.some((o) => o.kind === "PersistentVolumeClaim");
  try {
    if (createsPvc) {
      const first = await execute(observed, { ...d, status: undefined, events: [] }, writer, log);
      observed = withStored({ ...observed, dsd: first.dsd }, first.stored);
      d = decide(observed);
    }
    await execute(observed, d, writer, log);
  } catch (err) {
    await reportFailure(observed, d, err, writer, log);
    throw err; // retried with backoff by the work queue
  }
  return d.requeueAfterMs ? { requeueAfterMs: d.requeueAfterMs } : {};
}

/**
 * A refusal that retrying alone will not fix (a quota, an admission webhook or policy, an invalid
 * or immutable field): what the user must see. Conflicts, throttling and server errors pass by
 * themselves and are only retried.
 */
export function writeFailureOf(err: unknown): WriteFailure | undefined {
  if (!(err instanceof KubeApiError)) return undefined;
  if (err.code < 400 || err.code >= 500 || err.code === 404 || err.code === 409 || err.code === 429) return undefined;
  const body = err.body as { message?: unknown } | undefined;
  const message = typeof body?.message === "string" ? body.message : err.message;
  return {
    verb: err.verb,
    kind: err.ref.kind ?? "object",
    name: describeRef(err.ref).split(" ").pop() ?? "",
    reason: err.reason ?? (err.code === 403 ? "Forbidden" : err.code === 422 ? "Invalid" : "BadRequest"),
    message: message.slice(0, 2048),
  };
}

/** Puts a refused write into status (Synced and Degraded, with the apiserver's reason) and an Event. */
async function reportFailure(observed: Observed, d: Decision, err: unknown, writer: Writer, log: Logger) {
  const f = writeFailureOf(err);
  const dsd = observed.dsd;
  if (!f || dsd.metadata.deletionTimestamp) return;
  const base = d.status ?? dsd.status;
  if (!base) return;
  const status = withWriteFailure(base, f, dsd.metadata.generation ?? 0, new Date());
  writer.event(dsd, {
    type: "Warning",
    reason: `Failed${f.verb.charAt(0).toUpperCase()}${f.verb.slice(1)}`,
    action: f.verb.charAt(0).toUpperCase() + f.verb.slice(1),
    note: `${f.verb} ${f.kind} ${f.name} refused (${f.reason}): ${f.message}`.slice(0, 1024),
  });
  if (equalStatus(dsd.status, status)) return;
  try {
    await writer.applyStatus(dsd, status);
    written.set(dsd.metadata.uid, { over: dsd.metadata.resourceVersion, status });
  } catch (statusErr) {
    log.warn({ err: (statusErr as Error).message }, "could not record the failure in status");
  }
}

/**
 * Carries out one decision; returns the deployment as it now stands and the children as stored.
 * The status goes out with the last wave of applies: it is computed from what was observed, not
 * from the apply responses, so it need not wait for them (if an apply fails, the reconcile is
 * retried and the next status write corrects what this one said).
 */
async function execute(observed: Observed, d: Decision, writer: Writer, log: Logger) {
  let dsd = observed.dsd;
  const stored: Obj[] = [];
  if (d.finalizer === "add") {
    await writer.setFinalizer(dsd, true);
    dsd = { ...dsd, metadata: { ...dsd.metadata, finalizers: [...(dsd.metadata.finalizers ?? []), FINALIZER] } };
  }
  const status = d.status && !dsd.metadata.deletionTimestamp ? d.status : undefined;
  const waves = Array.from({ length: WAVES.length + 1 }, (_, w) => d.apply.filter((o) => waveOf(o) === w)).filter(
    (w) => w.length > 0,
  );
  // Deletes come after every apply; with deletes (or no applies) the status comes last. So does a
  // status that clears a refused write: it must not say Synced before the writes went through.
  const refused = dsd.status?.conditions?.some((c) => c.type === CONDITION.synced && c.status === "False");
  const statusWith = d.delete.length > 0 || refused ? -1 : waves.length - 1;
  const writeStatus = async (s: DeepSeekDeploymentStatus) => {
    await writer.applyStatus(dsd, s);
    written.set(dsd.metadata.uid, { over: dsd.metadata.resourceVersion, status: s });
    if (s.phase !== dsd.status?.phase) log.info({ from: dsd.status?.phase, to: s.phase }, "phase changed");
  };
  for (const [i, objs] of waves.entries()) {
    const writes: Promise<unknown>[] = objs.map((obj) => {
      log.debug({ kind: obj.kind, child: obj.metadata.name }, "apply");
      return writer.apply(obj).then((live) => stored.push(live as Obj));
    });
    if (status && i === statusWith) writes.push(writeStatus(status));
    await settleAll(writes);
  }
  for (const ref of d.delete) {
    log.info({ kind: ref.kind, child: ref.name }, "delete child no longer desired");
    await writer.delete(ref);
  }
  if (status && statusWith < 0) await writeStatus(status);
  if (status) dsd = { ...dsd, status };
  for (const e of d.events) writer.event(dsd, e);
  if (d.finalizer === "remove") {
    await writer.setFinalizer(dsd, false);
    written.delete(dsd.metadata.uid);
  }
  return { dsd, stored };
}

/** Like Promise.all, but every write has finished (or failed) before the first failure is thrown. */
async function settleAll(writes: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(writes)).find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
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
