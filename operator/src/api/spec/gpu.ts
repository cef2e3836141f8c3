import { z } from "zod";
import { POWERS_OF_TWO, isPowerOfTwo, withRules } from "../rules.ts";
import { GPU_PROFILES } from "../../planner/profiles/gpus.ts";

// The planner's GPU profiles are the list: a new GPU is a data change there, not an API edit here.
export const GPU_TYPES = GPU_PROFILES.map((g) => g.id) as [string, ...string[]];

export const GpuSpec = withRules(
  z
    .object({
      type: z.enum(GPU_TYPES).default("H200").describe("GPU model of the nodes to run on."),
      perNode: z
        .int()
        .min(1)
        .max(64)
        .default(8)
        .describe("GPUs per node of that type; decides when a replica spans nodes."),
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
      check: (g) => g.count === undefined || isPowerOfTwo(g.count),
    },
  ],
);
