// One reconcile as a pure function: observed state in, actions out. The executor (reconciler.ts)
// performs the actions; everything that needs judgement is here, where tests reach it directly.
import { AUTOSCALER_STATUS_FIELDS, type DeepSeekDeploymentStatus } from "../api/index.ts";
import {
  ANNOTATION,
  endpointUrl,
  engineSelector,
  scaleSelector,
  FINALIZER,
  LWS_API,
  renderEngine,
  renderPdb,
  renderService,
  renderWeightsPull,
  renderWeightsPvc,
  renderWeightsVerify,
  renderPvcOwners,
  defaultWeightsSize,
  requestedShape,
  liveShape,
  shapeShortfall,
  verifyKey,
  parseVerifyJobName,
  weightsPvcName,
  type Dsd,
  type KubeObject,
} from "../render/index.ts";
import { computeStatus, type PodFacts, type WorkloadFacts } from "./status.ts";
import { retryDelaySeconds, weightsState, type JobFacts, type WeightsState } from "./weights-state.ts";
import { isSubset } from "./subset.ts";
import type { EventSpec } from "./event-spec.ts";
import type { Obj, Observed, Pod } from "./observed.ts";
import { planSpec } from "./plan.ts";
import { handOff } from "./handoff.ts";
import { ANNOTATION_PROGRESS } from "../api/weights-contract.ts";
import { compareStrings } from "../util/compare.ts";

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  /** Delete only this object as it was seen: a change since (a new owner) fails the delete. */
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface Decision {
  finalizer?: "add" | "remove";
  /** Server-side apply; only objects whose live state lacks what we set. */
  apply: KubeObject[];
  /** Deleted (background propagation). */
  delete: ObjectRef[];
  status?: DeepSeekDeploymentStatus;
  events: EventSpec[];
  requeueAfterMs?: number;
}

const DOWNLOAD_STARTED = "WeightsDownloadStarted";
/**
 * How long a download Job may have completed without the PVC's weights-verified mark before it is
 * run again: the downloader sets the mark before it exits, so only the informers' order can make
 * the completion appear first, for a moment.
 */
const UNMARKED_GRACE_MS = 30_000;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function requeue(d: Decision, ms: number): void {
  d.requeueAfterMs = Math.max(1, Math.min(d.requeueAfterMs ?? Infinity, ms));
}

const refOf = (o: Obj): ObjectRef => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  namespace: o.metadata.namespace ?? "",
  name: o.metadata.name,
});

function jobFacts(job: Obj | undefined): JobFacts & { failedAt?: string; completedAt?: string } {
  if (!job) return { exists: false, active: false, succeeded: false, failed: false };
  const st =
    (
      job as {
        status?: {
          active?: number;
          succeeded?: number;
          completionTime?: string;
          conditions?: { type: string; status: string; message?: string; lastTransitionTime?: string }[];
        };
      }
    ).status ?? {};
  const failed = st.conditions?.find((c) => c.type === "Failed" && c.status === "True");
  const complete = st.conditions?.find((c) => c.type === "Complete" && c.status === "True");
  return {
    exists: true,
    active: (st.active ?? 0) > 0,
    succeeded: Boolean(complete) || (st.succeeded ?? 0) > 0,
    failed: Boolean(failed),
    failureMessage: failed?.message,
    failedAt: failed?.lastTransitionTime,
    completedAt: complete?.lastTransitionTime ?? st.completionTime,
  };
}

function podFacts(pods: Pod[]): PodFacts {
  let pending = 0;
  let unschedulable = 0;
  let crashLooping = 0;
  let schedulerMessage: string | undefined;
  let crashMessage: string | undefined;
  for (const p of pods) {
    if (p.metadata.deletionTimestamp) continue;
    if (p.status?.phase === "Pending") pending++;
    const sched = p.status?.conditions?.find((c) => c.type === "PodScheduled");
    if (sched?.status === "False" && sched.reason === "Unschedulable") {
      unschedulable++;
      schedulerMessage ??= sched.message;
    }
    const waiting = p.status?.containerStatuses?.find((c) => c.state?.waiting?.reason === "CrashLoopBackOff");
    if (waiting) {
      crashLooping++;
      crashMessage ??= `${p.metadata.name}: ${waiting.state?.waiting?.message ?? "CrashLoopBackOff"} (restarts: ${waiting.restartCount ?? 0})`;
    }
  }
  return {
    pending,
    unschedulable,
    crashLooping,
    ...(schedulerMessage ? { schedulerMessage } : {}),
    ...(crashMessage ? { crashMessage } : {}),
  };
}

function workloadFacts(w: Obj | undefined): (WorkloadFacts & { observedCurrent: boolean }) | undefined {
  if (!w) return undefined;
  const st =
    (
      w as {
        status?: {
          replicas?: number;
          readyReplicas?: number;
          updatedReplicas?: number;
          observedGeneration?: number;
          conditions?: { type: string; status: string; reason?: string; message?: string }[];
        };
      }
    ).status ?? {};
  const generation = (w.metadata as { generation?: number }).generation ?? 0;
  // The Deployment controller copies its ReplicaSet's ReplicaFailure (pods refused by Pod Security,
  // a quota, an admission webhook) here.
  const failure = st.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  return {
    exists: true,
    replicas: st.replicas ?? 0,
    readyReplicas: st.readyReplicas ?? 0,
    updatedReplicas: st.updatedReplicas ?? 0,
    observedCurrent: (st.observedGeneration ?? 0) >= generation,
    ...(failure ? { replicaFailure: `${failure.reason ?? "FailedCreate"}: ${failure.message ?? ""}`.trim() } : {}),
  };
}

/** Apply only what the live object lacks: a steady state makes no writes. */
function ensure(actions: Decision, desired: KubeObject, live: Obj | undefined): void {
  if (!live || !isSubset(desired, live)) actions.apply.push(desired);
}

function desiredReplicas(dsd: Dsd): number {
  const { replicas, autoscaling } = dsd.spec;
  if (autoscaling.mode === "None" || replicas === 0) return replicas;
  return Math.min(autoscaling.maxReplicas, Math.max(autoscaling.minReplicas, replicas));
}

/** The deployments that use the downloaded PVC `name` (sharingWeights may hold others of the same model). */
function users(o: Observed, name: string): Dsd[] {
  return o.sharingWeights
    .filter((d) => !d.spec.model.source.pvc && weightsPvcName(d) === name)
    .sort(
      (a, b) =>
        compareStrings(a.metadata.creationTimestamp ?? "", b.metadata.creationTimestamp ?? "") ||
        compareStrings(a.metadata.name, b.metadata.name),
    );
}

/**
 * Lets go of a weights PVC this deployment no longer uses (its revision or source moved on): this
 * deployment's owner reference goes. Under Delete, a PVC no one else uses goes too, guarded by its
 * resourceVersion so a deployment that has just taken it up keeps it; under Retain it stays, owned by
 * no one, for the next deployment of that revision.
 */
function release(d: Decision, dsd: Dsd, former: { pvc: Obj; users: Dsd[] }, leaving: boolean): void {
  const others = former.users.filter((u) => u.metadata.uid !== dsd.metadata.uid);
  const name = former.pvc.metadata.name;
  const revision = former.pvc.metadata.annotations?.[ANNOTATION.revision] ?? "another revision";
  if (dsd.spec.weights.reclaimPolicy === "Delete") {
    // A deployment that is going away leaves this to the garbage collector (its owner reference).
    if (leaving || others.length > 0) {
      if (!leaving) d.apply.push(renderPvcOwners(former.pvc, others));
      return;
    }
    d.delete.push({
      ...refOf(former.pvc),
      preconditions: { uid: former.pvc.metadata.uid, resourceVersion: former.pvc.metadata.resourceVersion },
    });
    d.events.push({
      type: "Normal",
      reason: "WeightsDeleted",
      action: "Release",
      note: `deleted PVC ${name} (${revision}): no deployment uses it and reclaimPolicy is Delete`,
    });
    return;
  }
  d.apply.push(renderPvcOwners(former.pvc, others));
  d.events.push({
    type: "Normal",
    reason: "WeightsReleased",
    action: "Release",
    note:
      others.length > 0
        ? `released PVC ${name} (${revision}); ${others.length} other deployment(s) still use it`
        : `released PVC ${name} (${revision}); kept without owners (reclaimPolicy Retain)`,
  });
}

/**
 * Under Retain the PVC must outlive its users. Owner references are applied by several
 * deployments' reconciles from their own cache views, so a stale view can leave references to
 * deployments that are already gone; if those were the only ones left, the garbage collector
 * would delete 160 GB of weights. The finalizer therefore works from a fresh read (the executor
 * supplies it, see reconciler.ts): it keeps only owners that exist and are not leaving under
 * Retain, writes that with the PVC's resourceVersion as a precondition, and only then lets go.
 */
function finalize(o: Observed): Decision {
  const d: Decision = { apply: [], delete: [], events: [] };
  if (!o.dsd.metadata.finalizers?.includes(FINALIZER)) return d;
  if (!o.dsd.spec.model.source.pvc && o.pvc) {
    // The live shape: an apply that omitted spec would drop our ownership of it, and one with this
    // deployment's shape could be refused (a smaller size) and hold the deletion up.
    const pvc = renderWeightsPvc(o.dsd, users(o, o.pvc.metadata.name), liveShape(o.pvc));
    const keep = new Set((pvc.metadata.ownerReferences ?? []).map((r) => r.uid));
    const stale = (o.pvc.metadata.ownerReferences ?? []).filter((r) => r.kind === o.dsd.kind && !keep.has(r.uid));
    if (stale.length > 0) {
      (pvc.metadata as { resourceVersion?: string }).resourceVersion = o.pvc.metadata.resourceVersion;
      pvc.metadata.annotations = {
        ...pvc.metadata.annotations,
        ...pick(o.pvc.metadata.annotations, ANNOTATION.attempts),
      };
      d.apply.push(pvc);
      if (o.dsd.spec.weights.reclaimPolicy === "Retain")
        d.events.push({
          type: "Normal",
          reason: "WeightsRetained",
          action: "Finalize",
          note: `kept PVC ${o.pvc.metadata.name} (reclaimPolicy Retain)`,
        });
    }
  }
  // A PVC of an earlier revision that still names this deployment as an owner would otherwise be
  // garbage-collected with it, whatever the reclaim policy says.
  for (const f of o.formerPvcs ?? []) release(d, o.dsd, f, true);
  d.finalizer = "remove";
  return d;
}

function pick(m: Record<string, string> | undefined, key: string): Record<string, string> {
  return m?.[key] !== undefined ? { [key]: m[key] } : {};
}

type WeightsStatusInput = WeightsState & { attempts?: number; nextRetryTime?: string };

/**
 * Weights on an existing PVC are checked by a verify Job made for exactly what it checks (claim,
 * folder, model, revision: the key in its name). Jobs for another key are no evidence of anything
 * now and go. A failed check is retried with backoff, as a new Job (the attempt is in the name).
 */
function verifyExisting(o: Observed, d: Decision): WeightsStatusInput {
  const dsd = o.dsd;
  const key = verifyKey(dsd);
  const mine = (o.verifyJobs ?? []).map((job) => ({
    job,
    id: parseVerifyJobName(dsd.metadata.name, job.metadata.name),
  }));
  const current = mine.filter((m) => m.id?.key === key).sort((a, b) => b.id!.attempt - a.id!.attempt)[0];
  for (const m of mine) if (m !== current) d.delete.push(refOf(m.job));
  const src = dsd.spec.model.source.pvc!;
  const where = `PVC ${src.claimName}${src.subPath ? `/${src.subPath}` : ""}`;
  if (!current) {
    d.apply.push(renderWeightsVerify(dsd, o.jobs, 0));
    return { phase: "Verifying", verified: false, permanent: false, attempts: 0 };
  }
  const attempt = current.id!.attempt;
  const job = jobFacts(current.job);
  if (job.succeeded) return { phase: "Complete", verified: true, permanent: false, attempts: attempt };
  if (!job.failed) return { phase: "Verifying", verified: false, permanent: false, attempts: attempt };
  const failedAt = Date.parse(job.failedAt ?? "") || o.now.getTime();
  const retryAt = failedAt + retryDelaySeconds(attempt + 1, false) * 1000;
  if (o.now.getTime() >= retryAt && attempt < 999) {
    d.apply.push(renderWeightsVerify(dsd, o.jobs, attempt + 1));
    d.delete.push(refOf(current.job));
    d.events.push({
      type: "Normal",
      reason: "WeightsRetry",
      action: "Verify",
      note: `verifying the files on ${where} again (attempt ${attempt + 2})`,
    });
    return { phase: "Verifying", verified: false, permanent: false, attempts: attempt + 1 };
  }
  requeue(d, retryAt - o.now.getTime());
  return {
    phase: "Failed",
    verified: false,
    // Nothing serves until the files change: the deployment is Failed, and checked again on schedule.
    permanent: true,
    reason: "VerificationFailed",
    message:
      `files on ${where} do not match ${dsd.spec.model.name}@${dsd.spec.model.revision}: ` +
      `${job.failureMessage ?? "see the verify Job's logs"}`,
    attempts: attempt,
    nextRetryTime: iso(retryAt),
  };
}

export function decide(o: Observed): Decision {
  const dsd = o.dsd;
  if (dsd.metadata.deletionTimestamp) return finalize(o);

  const actions: Decision = { apply: [], delete: [], events: [] };
  if (!dsd.metadata.finalizers?.includes(FINALIZER)) actions.finalizer = "add";
  const previous = dsd.status;
  const generation = dsd.metadata.generation ?? 0;
  const base = {
    generation,
    previous,
    desiredReplicas: desiredReplicas(dsd),
    selector: engineSelector(dsd.metadata.name),
    endpoint: endpointUrl(dsd),
  };

  // What CEL could not check (or an object stored before a rule existed): report, create nothing.
  const planned = o.specErrors
    ? { facts: { ok: false, reason: "InvalidSpec", message: o.specErrors } }
    : planSpec(dsd.spec);
  if (!planned.facts.ok || !planned.plan) {
    actions.status = computeStatus({ ...base, plan: planned.facts }, o.now);
    return withEvents(actions, previous);
  }
  const plan = planned.plan;

  // Weights.
  let weights: WeightsStatusInput;
  let pvcName: string;
  let storageGap: string | undefined;
  const pvcSource = dsd.spec.model.source.pvc;
  if (pvcSource) {
    pvcName = pvcSource.claimName;
    weights = verifyExisting(o, actions);
  } else {
    pvcName = weightsPvcName(dsd);
    const want = requestedShape(dsd, defaultWeightsSize(planned.modelBytes));
    // The first creator's shape stays: the live PVC's once it exists.
    const shape = o.pvc ? liveShape(o.pvc) : want;
    if (o.pvc) storageGap = shapeShortfall(want, shape);
    const pvc = renderWeightsPvc(o.dsd, users(o, pvcName), shape);
    const attempts = Number(o.pvc?.metadata.annotations?.[ANNOTATION.attempts] ?? "0");
    pvc.metadata.annotations![ANNOTATION.attempts] = String(attempts);
    ensure(actions, pvc, o.pvc);
    const job = jobFacts(o.pullJob);
    const state = weightsState(o.pvc?.metadata.annotations, dsd.spec.model.revision, job);
    const w: WeightsStatusInput = { ...state, attempts };
    weights = w;
    /** A new attempt: the old Job goes, the counter moves, the next reconcile creates the Job. */
    const restart = (event: EventSpec) => {
      actions.delete.push(refOf(o.pullJob!));
      pvc.metadata.annotations![ANNOTATION.attempts] = String(attempts + 1);
      actions.apply = actions.apply.filter((a) => a !== pvc);
      actions.apply.push(pvc);
      actions.events.push(event);
    };
    if (!state.verified && o.pvc?.metadata.uid) {
      if (!o.pullJob) {
        for (const obj of renderWeightsPull(dsd, o.pvc, o.jobs)) actions.apply.push(obj);
        // While already Downloading, a missing Job is either one the cache has not seen yet (created a
        // moment ago: nothing to tell) or one that went away after it reported (a restart worth an Event).
        const restarted =
          dsd.status?.phase === "Downloading" && o.pvc.metadata.annotations?.[ANNOTATION_PROGRESS] !== undefined;
        if (attempts === 0 && (dsd.status?.phase !== "Downloading" || restarted)) {
          actions.events.push({
            type: "Normal",
            reason: DOWNLOAD_STARTED,
            action: "Download",
            note: `pulling ${dsd.spec.model.name}@${dsd.spec.model.revision} into PVC ${pvcName}`,
          });
        }
      } else if (job.failed) {
        const failedAt = Date.parse(job.failedAt ?? "") || o.now.getTime();
        const retryAt = failedAt + retryDelaySeconds(attempts + 1, state.permanent) * 1000;
        w.nextRetryTime = iso(retryAt);
        if (o.now.getTime() >= retryAt)
          restart({
            type: "Normal",
            reason: "WeightsRetry",
            action: "Download",
            note: `retrying the weights download (attempt ${attempts + 2})`,
          });
        else requeue(actions, retryAt - o.now.getTime());
      } else if (job.succeeded) {
        // The downloader marks the PVC before it exits; a Job that completed without the mark lost
        // that last write. Nothing else would ever move, so the Job runs again: the files on disk
        // are checked, not fetched, and the mark is written.
        const doneAt = Date.parse(job.completedAt ?? "") || o.now.getTime();
        const retryAt = doneAt + UNMARKED_GRACE_MS;
        if (o.now.getTime() >= retryAt)
          restart({
            type: "Warning",
            reason: "WeightsNotMarked",
            action: "Download",
            note:
              `the download Job completed but PVC ${pvcName} never got the weights-verified mark; running it ` +
              `again to check the files and mark them (attempt ${attempts + 2})`,
          });
        else requeue(actions, retryAt - o.now.getTime());
      }
    } else if (!o.pvc?.metadata.uid) {
      // The Job is owned by the PVC; wait for the PVC to exist in the cache.
      requeue(actions, 1000);
    }
  }

  // Engine: only once the weights are complete and verified. Until then the workload as it stands
  // (older weights, another kind) keeps serving, and status counts its replicas.
  const multiNode = plan.nodesPerReplica > 1;
  const missingApi =
    multiNode && !o.lwsServed
      ? `spec needs ${plan.nodesPerReplica} nodes per replica, which is rendered as a LeaderWorkerSet, but the ` +
        `apiserver does not serve ${LWS_API}; install LeaderWorkerSet (https://lws.sigs.k8s.io) or fit a replica on one node`
      : undefined;
  ensure(actions, renderService(dsd, multiNode), o.service);
  const currentObj = multiNode ? o.lws : o.deployment;
  // A plan that moved between one node and many leaves the other kind behind, serving.
  const otherObj = multiNode ? o.deployment : o.lws;
  const current = workloadFacts(currentObj);
  const other = workloadFacts(otherObj);
  const runnable = weights.verified && !missingApi;
  let engineApplied = false;
  if (runnable) {
    const spare = (o.gpus?.largestFreeBlock ?? 0) >= plan.gpusPerReplica / plan.nodesPerReplica;
    const engine = renderEngine(dsd, plan, { spareReplicaCapacity: spare }, base.desiredReplicas);
    ensure(actions, engine, currentObj);
    engineApplied = actions.apply.includes(engine);
    ensure(actions, renderPdb(dsd), o.pdb);
  }
  const settled =
    runnable &&
    !engineApplied &&
    current !== undefined &&
    current.observedCurrent &&
    current.replicas === current.updatedReplicas;
  // The other kind goes once the new one serves every desired replica, not before: make before break.
  if (otherObj && settled && current.readyReplicas >= base.desiredReplicas) actions.delete.push(refOf(otherObj));
  const workload: WorkloadFacts | undefined =
    current || other || missingApi
      ? {
          exists: Boolean(current || other),
          ...(missingApi ? { missingApi } : {}),
          replicas: (current?.replicas ?? 0) + (other?.replicas ?? 0),
          readyReplicas: (current?.readyReplicas ?? 0) + (other?.readyReplicas ?? 0),
          // Replicas on this spec: none while the workload still runs earlier weights or the other kind.
          updatedReplicas: runnable ? (current?.updatedReplicas ?? 0) : 0,
          ...(current?.replicaFailure ? { replicaFailure: current.replicaFailure } : {}),
        }
      : undefined;

  // Weights PVCs of an earlier revision or source are let go once this one's rollout is done (old
  // replicas read them until then).
  const rolledOut =
    !otherObj &&
    (base.desiredReplicas === 0
      ? runnable && !engineApplied
      : settled && current.readyReplicas >= base.desiredReplicas);
  if (rolledOut) for (const f of o.formerPvcs ?? []) release(actions, dsd, f, false);
  const handoff = handOff(dsd, { hpa: o.hpa, scaledObject: o.scaledObject, kedaServed: o.kedaServed ?? false });
  actions.apply.push(...handoff.apply);
  actions.delete.push(...handoff.remove.map(refOf));

  actions.status = computeStatus(
    {
      ...base,
      selector: scaleSelector(dsd.metadata.name, multiNode),
      pvcName,
      weightsSource: pvcSource ? "pvc" : "download",
      plan: planned.facts,
      weights,
      ...(storageGap ? { storageGap } : {}),
      ...(workload ? { workload } : {}),
      pods: podFacts(o.pods),
      ...(o.gpus ? { gpus: o.gpus } : {}),
    },
    o.now,
  );
  return withEvents(actions, previous);
}

function withEvents(actions: Decision, previous: DeepSeekDeploymentStatus | undefined): Decision {
  const next = actions.status!;
  if (next.phase !== previous?.phase) {
    const failing = next.phase === "Failed" || next.phase === "Degraded";
    // The condition that explains the new phase.
    const explains = failing
      ? "Degraded"
      : next.phase === "Downloading"
        ? "WeightsReady"
        : next.phase === "Loading"
          ? "Progressing"
          : "Ready";
    const why = next.conditions?.find((c) => c.type === explains)?.message ?? "";
    // A download that starts with the move into Downloading is one story, told in one Event (an Event
    // is a write: two per new deployment cost the apiserver a fifth of the operator's writes).
    const started = actions.events.findIndex((e) => e.reason === DOWNLOAD_STARTED);
    const detail = next.phase === "Downloading" && started >= 0 ? actions.events.splice(started, 1)[0]!.note : why;
    actions.events.push({
      type: failing ? "Warning" : "Normal",
      reason: next.phase ?? "Unknown",
      action: "Reconcile",
      note: `${previous?.phase ?? "New"} → ${next.phase}: ${detail}`.slice(0, 1024),
    });
  }
  const prevWeights = previous?.weights;
  if (
    next.weights?.phase === "Failed" &&
    (prevWeights?.phase !== "Failed" || prevWeights.attempts !== next.weights.attempts)
  ) {
    actions.events.push({
      type: "Warning",
      reason: next.weights.reason ?? "WeightsFailed",
      action: "Download",
      note: (next.weights.message ?? "weights download failed").slice(0, 1024),
    });
  }
  const storage = next.conditions?.find((c) => c.type === "WeightsStorage");
  const storageBefore = previous?.conditions?.find((c) => c.type === "WeightsStorage");
  if (storage?.status === "False" && storageBefore?.status !== "False")
    actions.events.push({
      type: "Warning",
      reason: storage.reason,
      action: "Reconcile",
      note: storage.message.slice(0, 1024),
    });
  if (equalStatus(reconcilerOwned(previous), next)) delete actions.status;
  return actions;
}

/** The status without what the autoscaler writes (AUTOSCALER_STATUS_FIELDS): the part the reconciler sends. */
function reconcilerOwned(s: DeepSeekDeploymentStatus | undefined): DeepSeekDeploymentStatus | undefined {
  if (!s) return s;
  const own: DeepSeekDeploymentStatus = { ...s };
  for (const f of AUTOSCALER_STATUS_FIELDS) delete own[f];
  return own;
}

export function equalStatus(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}
