// Desired children of a DeepSeekDeployment, as pure functions of (spec, plan, facts).
export * from "./names.ts";
export * from "./types.ts";
export {
  renderWeightsPvc,
  renderWeightsPull,
  renderWeightsVerify,
  weightsPvcName,
  weightsLabels,
  defaultWeightsSize,
  MODELS_MOUNT,
} from "./weights.ts";
export { renderEngine, rolloutBudget, LWS_API } from "./engine.ts";
export { renderService, renderPdb, endpointUrl } from "./service.ts";
export { engineProbes, ENGINE_PORT } from "./probes.ts";
