export * from "./resource.ts";
export * from "./status.ts";
export { DeepSeekDeploymentSpec, FLASH_MAX_MIN_CONTEXT, type DeepSeekDeploymentSpecInput } from "./spec/index.ts";
export { MAX_CONTEXT, MAX_OUTPUT } from "./spec/context.ts";
export { GPU_TYPES } from "./spec/gpu.ts";
export { DEFAULT_MODEL } from "./spec/model.ts";
export { parseDeepSeekDeployment, parseSpec, fieldErrors, type FieldError, type ParseResult } from "./validate.ts";
export { parseQuantity, bytesToGi } from "./quantity.ts";
