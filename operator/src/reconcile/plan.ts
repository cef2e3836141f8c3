// Spec → planner input → plan, and the parts of the plan that status and rendering need.
import type { DeepSeekDeploymentSpec } from "../api/index.ts";
import { plan as runPlanner, type Plan } from "../planner/index.ts";
import { planInputFromSpec } from "./plan-input.ts";
import { resolveModel, UnknownProfileError } from "../planner/catalog.ts";
import type { PlanFacts } from "./status.ts";

export interface PlanOutcome {
  facts: PlanFacts;
  plan?: Plan;
  modelBytes?: number;
}

function summary(p: Plan): string {
  const parts = [`${p.gpusPerReplica}x${p.gpuType}`];
  if (p.nodesPerReplica > 1) parts.push(`${p.nodesPerReplica} nodes`);
  if (p.tensorParallel > 1) parts.push(`TP${p.tensorParallel}`);
  if (p.dataParallel > 1) parts.push(`DP${p.dataParallel}`);
  if (p.expertParallel) parts.push(`EP${p.gpusPerReplica}`);
  if (p.decodeContextParallel > 1) parts.push(`DCP${p.decodeContextParallel}`);
  return parts.join(" ");
}

const plannedOnce = new WeakMap<object, PlanOutcome>();

/** The plan for a spec, once per spec object (a pure function of it; the caches keep the object). */
export function planSpec(spec: DeepSeekDeploymentSpec): PlanOutcome {
  const hit = plannedOnce.get(spec);
  if (hit) return hit;
  const out = computePlan(spec);
  plannedOnce.set(spec, out);
  return out;
}

function computePlan(spec: DeepSeekDeploymentSpec): PlanOutcome {
  let plan: Plan;
  try {
    plan = runPlanner(planInputFromSpec(spec));
  } catch (err) {
    if (err instanceof UnknownProfileError) {
      const field = /gpu/i.test(err.message)
        ? "spec.gpu.type"
        : /engine/i.test(err.message)
          ? "spec.engine.type"
          : "spec.model.name";
      return {
        facts: {
          ok: false,
          reason: field === "spec.model.name" ? "UnknownModel" : "Unsupported",
          message: `${field}: ${err.message}`,
        },
      };
    }
    throw err;
  }
  const model = resolveModel(spec.model.name);
  const planStatus = {
    gpuType: plan.gpuType,
    gpusPerReplica: plan.gpusPerReplica,
    nodesPerReplica: plan.nodesPerReplica,
    tensorParallel: plan.tensorParallel,
    dataParallel: plan.dataParallel,
    expertParallel: plan.expertParallel ? plan.gpusPerReplica : 1,
    decodeContextParallel: plan.decodeContextParallel,
    kvCacheDtype: plan.kvCacheDtype,
    kvCacheBytesPerToken: Math.round(plan.kvCacheBytesPerToken),
    kvBudgetBytesPerGpu: Math.round(plan.kvBudgetBytesPerGpu),
    weightsBytesPerGpu: Math.round(plan.weightsBytesPerGpu),
    maxConcurrentSequences: Math.floor(plan.maxConcurrentSequences),
    kvSharding: plan.kvSharding.slice(0, 1024),
    workload: plan.nodesPerReplica > 1 ? ("LeaderWorkerSet" as const) : ("Deployment" as const),
    summary: summary(plan).slice(0, 64),
    reason: plan.reason.slice(0, 4096),
  };
  if (!plan.feasible) {
    return { facts: { ok: false, reason: "InfeasiblePlan", message: plan.reason, plan: planStatus } };
  }
  return {
    facts: { ok: true, reason: "Planned", message: plan.reason, plan: planStatus, gpusPerReplica: plan.gpusPerReplica },
    plan,
    modelBytes: model.weights.totalBytes,
  };
}
