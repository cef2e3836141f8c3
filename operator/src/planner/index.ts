// The capacity planner: pure functions over the model, GPU and engine profiles.
export { plan } from "./plan.ts";
export { PlanInputError } from "./input.ts";
export type { PlanInput, PlanOverrides } from "./input.ts";
export type { Plan } from "./types.ts";
export { MODEL_PROFILES, DEFAULT_MODEL_ID } from "./profiles/models.ts";
export { GPU_PROFILES } from "./profiles/gpus.ts";
