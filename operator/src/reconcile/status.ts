// The status of a DeepSeekDeployment as a pure function of what the reconciler observed. The
// reconciler writes it only when it differs from what is stored.
import type { Condition, DeepSeekDeploymentStatus, Phase } from "../api/index.ts";
import { formatDuration } from "../api/duration.ts";
import { CONDITION, setConditions, type ConditionInput } from "./conditions.ts";
import { percent, type WeightsState } from "./weights-state.ts";

export interface PlanFacts {
  ok: boolean;
  /** CamelCase reason when not ok: InvalidSpec, UnknownModel, InfeasiblePlan. */
  reason: string;
  message: string;
  plan?: NonNullable<DeepSeekDeploymentStatus["plan"]>;
  gpusPerReplica?: number;
}

export interface WorkloadFacts {
  exists: boolean;
  /** The workload kind is not served by the apiserver (LeaderWorkerSet CRD missing). */
  missingApi?: string;
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  /** Pods the workload's controller cannot create (ReplicaFailure), with its reason and message. */
  replicaFailure?: string;
}

export interface PodFacts {
  pending: number;
  unschedulable: number;
  schedulerMessage?: string;
  crashLooping: number;
  crashMessage?: string;
}

export interface GpuInventory {
  gpuType: string;
  nodes: number;
  total: number;
  free?: number;
}

export interface StatusInput {
  generation: number;
  previous: DeepSeekDeploymentStatus | undefined;
  desiredReplicas: number;
  selector: string;
  endpoint: string;
  pvcName?: string;
  /** Where the weights come from: a download into a shared PVC, or an existing PVC. */
  weightsSource?: "download" | "pvc";
  /** How the shared weights PVC falls short of this deployment's spec.weights (another user shaped it). */
  storageGap?: string;
  plan: PlanFacts;
  weights?: WeightsState & { attempts?: number; nextRetryTime?: string };
  workload?: WorkloadFacts;
  pods?: PodFacts;
  gpus?: GpuInventory;
}

const T = "True" as const;
const F = "False" as const;

function weightsStatus(w: StatusInput["weights"], pvcName: string | undefined): DeepSeekDeploymentStatus["weights"] {
  if (!w) return pvcName ? { pvcName, phase: "Pending" } : undefined;
  return strip({
    pvcName,
    phase: w.phase,
    progress: w.verified ? "100%" : percent(w.bytesDone, w.bytesTotal),
    bytesDone: w.bytesDone,
    bytesTotal: w.bytesTotal,
    filesDone: w.filesDone,
    filesTotal: w.filesTotal,
    bytesPerSecond: w.bytesPerSecond === undefined ? undefined : Math.round(w.bytesPerSecond),
    etaSeconds: w.etaSeconds === undefined ? undefined : Math.round(w.etaSeconds),
    eta: w.etaSeconds === undefined ? undefined : formatDuration(w.etaSeconds),
    verified: w.verified,
    reason: w.reason,
    message: w.message,
    attempts: w.attempts,
    nextRetryTime: w.nextRetryTime,
    updatedAt: w.updatedAt,
  });
}

function strip<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function gpuMessage(input: StatusInput): string {
  const p = input.pods!;
  const need = input.plan.gpusPerReplica ?? 0;
  const inv = input.gpus;
  const have = inv
    ? `; the cluster has ${inv.total} ${inv.gpuType} GPUs on ${inv.nodes} nodes${inv.free !== undefined ? `, ${inv.free} free` : ""}`
    : "";
  return (
    `${p.unschedulable} engine pod(s) cannot be scheduled: each replica needs ${need} × ` +
    `${inv?.gpuType ?? "GPU"}, ${input.desiredReplicas} replica(s) need ${need * input.desiredReplicas}${have}. ` +
    `Scheduler: ${p.schedulerMessage ?? "no reason reported"}`
  );
}

export function computeStatus(input: StatusInput, now: Date): DeepSeekDeploymentStatus {
  const conds: ConditionInput[] = [];
  const { plan, weights, workload, pods } = input;
  let phase: Phase;

  conds.push(
    plan.ok
      ? { type: CONDITION.planValid, status: T, reason: "Planned", message: plan.message }
      : { type: CONDITION.planValid, status: F, reason: plan.reason, message: plan.message },
  );

  if (weights?.verified)
    conds.push({
      type: CONDITION.weightsReady,
      status: T,
      reason: "Verified",
      message: "every file is present and its sha256 matched",
    });
  else if (weights?.phase === "Failed")
    conds.push({
      type: CONDITION.weightsReady,
      status: F,
      reason: weights.reason ?? "DownloadFailed",
      message: `${weights.message ?? "the weights download failed"}${weights.nextRetryTime ? `; next attempt at ${weights.nextRetryTime}` : ""}`,
    });
  else
    conds.push({
      type: CONDITION.weightsReady,
      status: F,
      reason: weights ? "Downloading" : "Pending",
      message: weights
        ? `${weights.phase}: ${percent(weights.bytesDone, weights.bytesTotal) ?? "starting"}`
        : "waiting for a valid plan",
    });

  const ready = workload?.readyReplicas ?? 0;
  const desired = input.desiredReplicas;
  const unschedulable = (pods?.unschedulable ?? 0) > 0;
  const crashing = (pods?.crashLooping ?? 0) > 0;
  const cannotCreate = workload?.replicaFailure !== undefined;
  const verified = weights?.verified ?? false;

  // Replicas that serve (older weights, the other workload kind) keep the deployment serving while
  // what would replace them cannot start yet.
  if (!plan.ok) phase = "Failed";
  else if (weights?.phase === "Failed" && weights.permanent) phase = ready >= 1 ? "Degraded" : "Failed";
  else if (!verified) phase = ready >= 1 ? "Serving" : "Downloading";
  else if (workload?.missingApi) phase = ready >= 1 ? "Degraded" : "Failed";
  else if (ready >= 1 && ready >= desired) phase = "Serving";
  else if (ready >= 1) phase = unschedulable || crashing || cannotCreate ? "Degraded" : "Serving";
  else if (desired === 0) phase = "Pending";
  else phase = crashing || cannotCreate ? "Degraded" : "Loading";

  if (workload?.missingApi)
    conds.push({ type: CONDITION.progressing, status: F, reason: "MissingAPI", message: workload.missingApi });
  else if (!verified && ready >= 1 && weights?.phase !== "Failed")
    conds.push({
      type: CONDITION.progressing,
      status: T,
      reason: "WeightsPending",
      message:
        `${ready} replica(s) keep serving the weights they have while the new weights are ` +
        `${weights?.phase ?? "Pending"} (${percent(weights?.bytesDone, weights?.bytesTotal) ?? "starting"})`,
    });
  else if (verified && desired > 0 && (ready < desired || (workload?.updatedReplicas ?? 0) < desired))
    conds.push({
      type: CONDITION.progressing,
      status: T,
      reason: ready === 0 ? "Loading" : "RollingOut",
      message: `${ready}/${desired} replicas ready, ${workload?.updatedReplicas ?? 0} updated`,
    });
  else
    conds.push({
      type: CONDITION.progressing,
      status: F,
      reason: phase === "Serving" ? "Complete" : "Waiting",
      message: `${ready}/${desired} replicas ready`,
    });

  if (unschedulable)
    conds.push({ type: CONDITION.gpusAvailable, status: F, reason: "InsufficientGPUs", message: gpuMessage(input) });
  else
    conds.push({
      type: CONDITION.gpusAvailable,
      status: T,
      reason: "Scheduled",
      message: "every engine pod is scheduled",
    });

  if (cannotCreate)
    conds.push({
      type: CONDITION.degraded,
      status: T,
      reason: "FailedCreate",
      message: `engine pods cannot be created: ${workload.replicaFailure}`,
    });
  else if (crashing)
    conds.push({
      type: CONDITION.degraded,
      status: T,
      reason: "CrashLoop",
      message: `${pods!.crashLooping} engine pod(s) crash-looping: ${pods!.crashMessage ?? ""}`.trim(),
    });
  else if (weights?.phase === "Failed" && weights.permanent && ready >= 1)
    conds.push({
      type: CONDITION.degraded,
      status: T,
      reason: weights.reason ?? "WeightsFailed",
      message:
        `${ready} replica(s) keep serving the weights they have; the new weights failed: ${weights.message ?? ""}`.trim(),
    });
  else if (phase === "Degraded" || (phase === "Serving" && ready < desired))
    conds.push({
      type: CONDITION.degraded,
      status: T,
      reason: "ReplicasUnavailable",
      message: `${ready}/${desired} replicas ready`,
    });
  else if (phase === "Failed")
    conds.push({ type: CONDITION.degraded, status: T, reason: "Failed", message: failedMessage(input) });
  else conds.push({ type: CONDITION.degraded, status: F, reason: "AsExpected", message: "no failures observed" });

  conds.push(
    ready >= 1
      ? { type: CONDITION.available, status: T, reason: "ReplicasReady", message: `${ready} replica(s) serving` }
      : { type: CONDITION.available, status: F, reason: phase, message: "no replica is serving" },
  );
  conds.push(
    phase === "Serving" && ready >= desired
      ? {
          type: CONDITION.ready,
          status: T,
          reason: "Serving",
          message: `${ready}/${desired} replicas ready at ${input.endpoint}`,
        }
      : {
          type: CONDITION.ready,
          status: F,
          reason: phase,
          message: phase === "Failed" ? failedMessage(input) : `${ready}/${desired} replicas ready`,
        },
  );

  if (input.weightsSource === "download" && input.pvcName)
    conds.push(
      input.storageGap
        ? {
            type: CONDITION.weightsStorage,
            status: F,
            reason: "SharedShapeDiffers",
            message:
              `PVC ${input.pvcName} is shared and keeps the shape its first user gave it: ${input.storageGap}; ` +
              "it is never shrunk or reshaped (resize it by hand if it must grow)",
          }
        : {
            type: CONDITION.weightsStorage,
            status: T,
            reason: "AsRequested",
            message: `PVC ${input.pvcName} fits spec.weights`,
          },
    );
  conds.push({ type: CONDITION.synced, status: T, reason: "Applied", message: "every child object is applied" });

  const conditions: Condition[] = setConditions(input.previous?.conditions ?? [], conds, input.generation, now);
  return strip({
    phase,
    observedGeneration: input.generation,
    conditions,
    replicas: workload?.replicas ?? 0,
    readyReplicas: ready,
    updatedReplicas: workload?.updatedReplicas ?? 0,
    desiredReplicas: desired,
    gpus: plan.ok ? (plan.gpusPerReplica ?? 0) * desired : undefined,
    selector: input.selector,
    weights: weightsStatus(weights, input.pvcName),
    plan: plan.plan,
    endpoint: input.endpoint,
  });
}

/** A write the apiserver refused: what stops progress, as the user sees it. */
export interface WriteFailure {
  verb: string;
  kind: string;
  name: string;
  /** The apiserver's Status reason (Forbidden, Invalid, …), or a name for a failure without one. */
  reason: string;
  message: string;
}

/**
 * The status with a refused write in it: Synced and Degraded say why, with the apiserver's reason,
 * and the phase shows it in `kubectl get`. The next reconcile whose writes go through computes the
 * status afresh, without it.
 */
export function withWriteFailure(
  status: DeepSeekDeploymentStatus,
  f: WriteFailure,
  generation: number,
  now: Date,
): DeepSeekDeploymentStatus {
  const message = `${f.verb} ${f.kind} ${f.name}: ${f.message}`;
  const conditions = setConditions(
    status.conditions ?? [],
    [
      { type: CONDITION.synced, status: F, reason: f.reason, message },
      { type: CONDITION.degraded, status: T, reason: f.reason, message },
    ],
    generation,
    now,
  );
  return { ...status, phase: status.phase === "Failed" ? "Failed" : "Degraded", conditions };
}

function failedMessage(input: StatusInput): string {
  if (!input.plan.ok) return input.plan.message;
  if (input.workload?.missingApi) return input.workload.missingApi;
  return input.weights?.message ?? "failed";
}
