// The planner's input from a DeepSeekDeployment spec: shared by the controller and `plan -f`.
import { parseQuantity, type DeepSeekDeploymentSpec } from "../api/index.ts";
import type { PlanInput, PlanOverrides } from "../planner/input.ts";

export function planInputFromSpec(spec: DeepSeekDeploymentSpec): PlanInput {
  const ctx = spec.context;
  const p = spec.parallelism;
  const overrides: PlanOverrides = {
    ...(spec.gpu.count !== undefined ? { gpusPerReplica: spec.gpu.count } : {}),
    ...(p?.tensor !== undefined ? { tensor: p.tensor } : {}),
    ...(p?.data !== undefined ? { data: p.data } : {}),
    ...(p?.expert !== undefined ? { expert: p.expert } : {}),
    ...(p?.decodeContext !== undefined ? { decodeContext: p.decodeContext } : {}),
    ...(p?.nodesPerReplica !== undefined ? { nodesPerReplica: p.nodesPerReplica } : {}),
  };
  return {
    model: spec.model.name,
    gpu: spec.gpu.type,
    gpusPerNode: spec.gpu.perNode,
    engine: spec.engine.type,
    maxModelLen: ctx.maxModelLen,
    concurrency: ctx.targetConcurrency,
    kvCacheDtype: ctx.kvCacheDtype,
    ...(ctx.offload
      ? {
          offload: {
            tier: ctx.offload.tier === "CPU" ? "cpu" : "disk",
            bytesPerReplica: parseQuantity(ctx.offload.size),
          },
        }
      : {}),
    reasoning: spec.reasoning.mode === "FlashMax" ? "flash-max" : "standard",
    toolCalling: spec.toolCalling.enabled,
    ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
  };
}
