import { z } from "zod";
import { POWERS_OF_TWO, withRules } from "../rules.ts";

export const GPU_TYPES = ["H100", "H200", "B200", "B300", "GB200", "MI300X", "MI355X"] as const;

export const GpuSpec = withRules(
  z
    .object({
      type: z.enum(GPU_TYPES).default("H200").describe("GPU model of the nodes to run on."),
      perNode: z.int().min(1).max(64).default(8).describe("GPUs per node of that type; decides when a replica spans nodes."),
      count: z
        .int()
        .min(1)
        .max(64)
        .optional()
        .describe("GPUs per replica; overrides the planner's choice. A power of two."),
    })
    .describe("The GPUs to plan for."),
  [
    {
      cel: `!has(self.count) || self.count in [${POWERS_OF_TWO.join(", ")}]`,
      message: "spec.gpu.count must be a power of two (1, 2, 4, 8, 16, 32 or 64)",
      fieldPath: ".count",
      check: (g) => g.count === undefined || (POWERS_OF_TWO as readonly number[]).includes(g.count),
    },
  ],
);
