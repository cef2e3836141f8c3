// One reconcile as a pure function: observed state in, actions out. The executor (reconciler.ts)
// performs the actions; everything that needs judgement is here, where tests reach it directly.
import type { DeepSeekDeploymentStatus } from "../api/index.ts";
import {
  ANNOTATION,
  endpointUrl,
  engineSelector,
  FINALIZER,
  LWS_API,
  renderEngine,
  renderPdb,
  renderService,
  renderWeightsPull,
  renderWeightsPvc,
  renderWeightsVerify,
  defaultWeightsSize,
  type Dsd,
  type KubeObject,
} from "../render/index.ts";
import { computeStatus, type PodFacts, type WorkloadFacts } from "./status.ts";
import { retryDelaySeconds, weightsState, type JobFacts, type WeightsState } from "./weights-state.ts";
import { isSubset } from "./subset.ts";
import type { EventSpec } from "./event-spec.ts";
import type { Obj, Observed, Pod } from "./observed.ts";
import { planSpec } from "./plan.ts";
import { ANNOTATION_PROGRESS } from "../api/weights-contract.ts";
import { compareStrings } from "../util/compare.ts";

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
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

const refOf = (o: Obj): ObjectRef => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  namespace: o.metadata.namespace ?? "",
  name: o.metadata.name,
});

function jobFacts(job: Obj | undefined): JobFacts & { failedAt?: string } {
  if (!job) return { exists: false, active: false, succeeded: false, failed: false };
  const st =
    (
      job as {
        status?: {
          active?: number;
          succeeded?: number;
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

function workloadFacts(w: Obj | undefined, missingApi?: string): WorkloadFacts | undefined {
  if (missingApi) return { exists: false, missingApi, replicas: 0, readyReplicas: 0, updatedReplicas: 0 };
  if (!w) return undefined;
  const st = (w as { status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number } }).status ?? {};
  return {
    exists: true,
    replicas: st.replicas ?? 0,
    readyReplicas: st.readyReplicas ?? 0,
    updatedReplicas: st.updatedReplicas ?? 0,
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

/** The deployments that use the downloaded PVC: sharingWeights already have this model and revision. */
function users(o: Observed): Dsd[] {
  return o.sharingWeights
    .filter((d) => !d.spec.model.source.pvc)
    .sort(
      (a, b) =>
        compareStrings(a.metadata.creationTimestamp ?? "", b.metadata.creationTimestamp ?? "") ||
        compareStrings(a.metadata.name, b.metadata.name),
    );
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
    // The full object with the live size: an apply that omitted spec would drop our ownership of it.
    const liveSize =
      (o.pvc as { spec?: { resources?: { requests?: { storage?: string } } } }).spec?.resources?.requests?.storage ??
      "0";
    const pvc = renderWeightsPvc(o.dsd, users(o), liveSize);
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
  d.finalizer = "remove";
  return d;
}

function pick(m: Record<string, string> | undefined, key: string): Record<string, string> {
  return m?.[key] !== undefined ? { [key]: m[key] } : {};
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
  let weights: (WeightsState & { attempts?: number; nextRetryTime?: string }) | undefined;
  let pvcName: string;
  const pvcSource = dsd.spec.model.source.pvc;
  if (pvcSource) {
    pvcName = pvcSource.claimName;
    const job = jobFacts(o.verifyJob);
    if (!o.verifyJob) actions.apply.push(renderWeightsVerify(dsd, o.jobs));
    weights = job.succeeded
      ? { phase: "Complete", verified: true, permanent: false }
      : job.failed
        ? {
            phase: "Failed",
            verified: false,
            permanent: true,
            reason: "VerificationFailed",
            message:
              `files on PVC ${pvcName} do not match ${dsd.spec.model.name}@${dsd.spec.model.revision}: ` +
              `${job.failureMessage ?? "see the verify Job's logs"}`,
          }
        : { phase: "Verifying", verified: false, permanent: false };
  } else {
    const pvc = renderWeightsPvc(o.dsd, users(o), defaultWeightsSize(planned.modelBytes));
    pvcName = pvc.metadata.name;
    const attempts = Number(o.pvc?.metadata.annotations?.[ANNOTATION.attempts] ?? "0");
    pvc.metadata.annotations![ANNOTATION.attempts] = String(attempts);
    ensure(actions, pvc, o.pvc);
    const job = jobFacts(o.pullJob);
    const state = weightsState(o.pvc?.metadata.annotations, dsd.spec.model.revision, job);
    weights = { ...state, attempts };
    if (!state.verified && o.pvc?.metadata.uid) {
      if (!o.pullJob) {
        for (const obj of renderWeightsPull(dsd, o.pvc, o.jobs)) actions.apply.push(obj);
        // While already Downloading, a missing Job is either one the cache has not seen yet (created a
        // moment ago: nothing to tell) or one that went away after it reported (a restart worth an Event).
        const restart =
          dsd.status?.phase === "Downloading" && o.pvc.metadata.annotations?.[ANNOTATION_PROGRESS] !== undefined;
        if (attempts === 0 && (dsd.status?.phase !== "Downloading" || restart)) {
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
        weights.nextRetryTime = new Date(retryAt).toISOString().replace(/\.\d{3}Z$/, "Z");
        if (o.now.getTime() >= retryAt) {
          // A new attempt: the old Job goes, the counter moves, the next reconcile creates the Job.
          actions.delete.push(refOf(o.pullJob));
          pvc.metadata.annotations![ANNOTATION.attempts] = String(attempts + 1);
          actions.apply = actions.apply.filter((a) => a !== pvc);
          actions.apply.push(pvc);
          actions.events.push({
            type: "Normal",
            reason: "WeightsRetry",
            action: "Download",
            note: `retrying the weights download (attempt ${attempts + 2})`,
          });
        } else {
          actions.requeueAfterMs = retryAt - o.now.getTime();
        }
      }
    } else if (!o.pvc?.metadata.uid) {
      // The Job is owned by the PVC; wait for the PVC to exist in the cache.
      actions.requeueAfterMs = 1000;
    }
  }

  // Engine: only once the weights are complete and verified.
  const multiNode = plan.nodesPerReplica > 1;
  const missingApi =
    multiNode && !o.lwsServed
      ? `spec needs ${plan.nodesPerReplica} nodes per replica, which is rendered as a LeaderWorkerSet, but the ` +
        `apiserver does not serve ${LWS_API}; install LeaderWorkerSet (https://lws.sigs.k8s.io) or fit a replica on one node`
      : undefined;
  ensure(actions, renderService(dsd, multiNode), o.service);
  let workload: Obj | undefined = multiNode ? o.lws : o.deployment;
  if (weights.verified && !missingApi) {
    const spare = (o.gpus?.largestFreeBlock ?? 0) >= plan.gpusPerReplica / plan.nodesPerReplica;
    ensure(actions, renderEngine(dsd, plan, { spareReplicaCapacity: spare }, base.desiredReplicas), workload);
    ensure(actions, renderPdb(dsd), o.pdb);
  } else if (!weights.verified) {
    workload = undefined;
  }
  // A plan that moved between one node and many leaves the other kind behind.
  const stale = multiNode ? o.deployment : o.lws;
  if (stale) actions.delete.push(refOf(stale));

  actions.status = computeStatus(
    {
      ...base,
      pvcName,
      plan: planned.facts,
      weights,
      workload: workloadFacts(workload, missingApi),
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
  if (equalStatus(previous, next)) delete actions.status;
  return actions;
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
