// Desired children of a DeepSeekDeployment, as pure functions of (spec, plan, facts).
export * from "./names.ts";
export * from "./types.ts";
export {
  renderWeightsPvc,
  renderWeightsPull,
  renderWeightsVerify,
  renderPvcOwners,
  requestedShape,
  liveShape,
  shapeShortfall,
  verifyKey,
  parseVerifyJobName,
  weightsPvcName,
  defaultWeightsSize,
} from "./weights.ts";
export { renderEngine, LWS_API } from "./engine.ts";
export { renderService, renderPdb, endpointUrl } from "./service.ts";
export { engineProbes, ENGINE_PORT } from "./probes.ts";
export {
  DEFAULT_TOKEN_POLICY,
  imagePolicyError,
  parseOrigins,
  tokenPolicyError,
  tokenRefusal,
  type TokenPolicy,
} from "./endpoints.ts";
export { renderHpa } from "./hpa.ts";
export { renderScaledObject } from "./scaledobject.ts";
export { queriesFor } from "./promql.ts";
