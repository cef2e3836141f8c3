// spec of a DeepSeekDeployment. Field names follow KServe's LLMInferenceService where one exists
// (model, parallelism, replicas, rollout); see the README for where and why this API departs.
import { z } from "zod";
import { withRules, celOr } from "../rules.ts";
import { MODEL_WEIGHT_BYTES } from "../model-sizes.ts";
import { ModelSpec } from "./model.ts";
import { WeightsSpec } from "./weights.ts";
import { EngineSpec } from "./engine.ts";
import { GpuSpec } from "./gpu.ts";
import { ContextSpec } from "./context.ts";
import { ParallelismSpec } from "./parallelism.ts";
import { AUTOSCALING_DEFAULTS, AutoscalingSpec } from "./autoscaling.ts";
import { SchedulingSpec } from "./scheduling.ts";
import { ServiceSpec } from "./service.ts";
import { RolloutSpec } from "./rollout.ts";
import { parseQuantity } from "../quantity.ts";

export const FLASH_MAX_MIN_CONTEXT = 393_216;

const ReasoningSpec = z
  .object({
    mode: z
      .enum(["Standard", "FlashMax"])
      .default("Standard")
      .describe(
        "Standard reasoning, or Flash-Max (Think-Max) with its larger thinking budget; FlashMax needs spec.context.maxModelLen of at least 393216.",
      ),
  })
  .describe("Reasoning mode served by default.");

const ToolCallingSpec = z
  .object({
    enabled: z.boolean().default(true).describe("Parse tool calls (OpenAI tools API) from the model's output."),
  })
  .describe("Tool calling.");

const SpecObject = z
  .object({
    model: ModelSpec,
    weights: WeightsSpec.default({
      accessMode: "ReadWriteMany",
      reclaimPolicy: "Retain",
      download: { concurrency: 8, stallTimeoutSeconds: 120, timeoutSeconds: 21600 },
    }),
    engine: EngineSpec.default({ type: "vllm", extraArgs: [], env: [] }),
    gpu: GpuSpec.default({ type: "H200", perNode: 8 }),
    context: ContextSpec.default({ maxModelLen: 1_048_576, targetConcurrency: 4, kvCacheDtype: "fp8" }),
    reasoning: ReasoningSpec.default({ mode: "Standard" }),
    toolCalling: ToolCallingSpec.default({ enabled: true }),
    parallelism: ParallelismSpec.optional(),
    replicas: z
      .int()
      .min(0)
      .max(1000)
      .default(1)
      .describe(
        "Desired replicas; written by kubectl scale, an HPA, KEDA or the builtin autoscaler through the scale subresource.",
      ),
    autoscaling: AutoscalingSpec.default(AUTOSCALING_DEFAULTS),
    scheduling: SchedulingSpec.optional(),
    service: ServiceSpec.default({ type: "ClusterIP", port: 8000 }),
    rollout: RolloutSpec.default({ strategy: "Auto", maxSurge: 1, maxUnavailable: 1 }),
  })
  .describe("Desired state of a DeepSeek-V4-Flash deployment.");

type SpecOut = z.output<typeof SpecObject>;

const tensorCel = celOr("self.parallelism", "tensor", "1");
const dataCel = celOr("self.parallelism", "data", "1");
const sizeMapCel = `{${Object.entries(MODEL_WEIGHT_BYTES)
  .map(([m, b]) => `'${m}': '${b}'`)
  .join(", ")}}`;

export const DeepSeekDeploymentSpec = withRules(SpecObject, [
  {
    cel: `self.reasoning.mode != 'FlashMax' || self.context.maxModelLen >= ${FLASH_MAX_MIN_CONTEXT}`,
    message: `spec.context.maxModelLen must be at least ${FLASH_MAX_MIN_CONTEXT} when spec.reasoning.mode is FlashMax`,
    fieldPath: ".context.maxModelLen",
    check: (s: SpecOut) => s.reasoning.mode !== "FlashMax" || s.context.maxModelLen >= FLASH_MAX_MIN_CONTEXT,
  },
  {
    cel: `!has(self.gpu.count) || !has(self.parallelism) || self.gpu.count % (${tensorCel} * ${dataCel}) == 0`,
    message: "spec.gpu.count must be divisible by spec.parallelism.tensor × spec.parallelism.data",
    fieldPath: ".gpu.count",
    check: (s: SpecOut) =>
      s.gpu.count === undefined ||
      !s.parallelism ||
      s.gpu.count % ((s.parallelism.tensor ?? 1) * (s.parallelism.data ?? 1)) === 0,
  },
  {
    cel:
      `!has(self.weights.size) || has(self.model.source.pvc) || !(self.model.name in ${sizeMapCel}) || ` +
      `quantity(self.weights.size).compareTo(quantity(${sizeMapCel}[self.model.name])) >= 0`,
    message:
      "spec.weights.size is smaller than the model's weights (see the model profile); leave it unset for the default",
    fieldPath: ".weights.size",
    check: (s: SpecOut) => {
      const known = MODEL_WEIGHT_BYTES[s.model.name];
      return (
        s.weights.size === undefined ||
        s.model.source.pvc !== undefined ||
        known === undefined ||
        parseQuantity(s.weights.size) >= known
      );
    },
  },
]);

export type DeepSeekDeploymentSpec = z.output<typeof DeepSeekDeploymentSpec>;
export type DeepSeekDeploymentSpecInput = z.input<typeof DeepSeekDeploymentSpec>;
