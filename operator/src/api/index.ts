export * from "./resource.ts";
export * from "./status.ts";
export { DeepSeekDeploymentSpec, type DeepSeekDeploymentSpecInput } from "./spec/index.ts";
export { parseDeepSeekDeployment, parseSpec } from "./validate.ts";
export { parseQuantity, bytesToGi } from "./quantity.ts";
