import { z } from "zod";
import { quantity } from "../fields.ts";
import { withRules } from "../rules.ts";

export const MAX_CONTEXT = 1_048_576;
export const MAX_OUTPUT = 393_216;

const Offload = z
  .object({
    tier: z
      .enum(["CPU", "Disk"])
      .describe("Where KV blocks that do not fit in GPU memory are kept: host memory or local disk."),
    size: quantity("Capacity of the offload tier per replica."),
  })
  .describe("An optional second tier for the KV cache; long idle contexts spill there instead of being recomputed.");

export const ContextSpec = withRules(
  z
    .object({
      maxModelLen: z
        .int()
        .min(1, { message: "spec.context.maxModelLen must be at least 1" })
        .max(MAX_CONTEXT, { message: `spec.context.maxModelLen must be at most ${MAX_CONTEXT}` })
        .default(MAX_CONTEXT)
        .describe("Longest sequence (prompt + output) a request may use, in tokens."),
      maxOutputTokens: z
        .int()
        .min(1, { message: "spec.context.maxOutputTokens must be at least 1" })
        .max(MAX_OUTPUT, { message: `spec.context.maxOutputTokens must be at most ${MAX_OUTPUT}` })
        .optional()
        .describe("Largest number of generated tokens a request may ask for."),
      targetConcurrency: z
        .int()
        .min(1, { message: "spec.context.targetConcurrency must be at least 1" })
        .max(4096)
        .default(4)
        .describe("Sequences of maxModelLen tokens that one replica must hold at once; the planner sizes GPUs for it."),
      kvCacheDtype: z
        .enum(["auto", "fp8", "bf16"])
        .default("fp8")
        .describe("Data type of the KV cache; fp8 halves its size."),
      offload: Offload.optional(),
    })
    .describe("Context length and KV-cache sizing."),
  [
    {
      cel: "!has(self.maxOutputTokens) || self.maxOutputTokens <= self.maxModelLen",
      message: "spec.context.maxOutputTokens must not exceed spec.context.maxModelLen",
      fieldPath: ".maxOutputTokens",
      check: (c) => c.maxOutputTokens === undefined || c.maxOutputTokens <= c.maxModelLen,
    },
  ],
);
