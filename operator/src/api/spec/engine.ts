import { z } from "zod";

export const EngineSpec = z
  .object({
    type: z.enum(["vllm", "sglang"]).default("vllm").describe("Serving engine."),
    image: z
      .string()
      .max(512)
      .optional()
      .describe("Engine container image; the model profile's default for the engine when unset."),
    extraArgs: z
      .array(z.string().max(1024).describe("One engine argument, e.g. --max-num-seqs=256."))
      .max(64)
      .default([])
      .describe(
        "Arguments appended to the planned engine command line; a later flag overrides an earlier one in both engines.",
      ),
    env: z
      .array(
        z
          .object({
            name: z.string().min(1).max(253).describe("Variable name."),
            value: z.string().max(32768).default("").describe("Variable value."),
          })
          .describe("One environment variable."),
      )
      .max(64)
      .default([])
      .describe("Extra environment variables for the engine container."),
  })
  .describe("The inference engine that serves the model.");
