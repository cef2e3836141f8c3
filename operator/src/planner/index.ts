// The capacity planner: pure functions over the model, GPU and engine profiles.
export { plan } from "./plan.ts";
export { checkPlanInput, PlanInputError, MAX_GPUS_PER_REPLICA } from "./input.ts";
export type { PlanInput, PlanOverrides, InputProblem, KvCacheDtypeInput, OffloadTier, ReasoningMode } from "./input.ts";
export type { Plan, Layout, Capacity } from "./types.ts";
export {
  resolveModel,
  resolveGpu,
  resolveEngine,
  supportFor,
  knownModels,
  knownGpus,
  UnknownProfileError,
} from "./catalog.ts";
export { kvBytesPerToken, kvWindowBytes, kvTheoryBytesPerSequence, kvEngineBytesPerSequence } from "./kv.ts";
export { MODEL_PROFILES, DEFAULT_MODEL_ID } from "./profiles/models.ts";
export { GPU_PROFILES } from "./profiles/gpus.ts";
export { ENGINE_PROFILES } from "./profiles/engines.ts";
export { SUPPORT_RULES } from "./profiles/support.ts";
export type {
  ModelProfile,
  GpuProfile,
  EngineProfile,
  SupportRule,
  Engine,
  KvDtype,
  IndexerDtype,
  ParallelMode,
} from "./profiles/types.ts";
