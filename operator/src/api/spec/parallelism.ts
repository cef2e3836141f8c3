import { z } from "zod";
import { POWERS_OF_TWO, isPowerOfTwo, withRules } from "../rules.ts";

const pow2 = (description: string) => z.int().min(1).max(64).optional().describe(`${description} A power of two.`);

export const ParallelismSpec = withRules(
  z
    .object({
      tensor: pow2(
        "Tensor-parallel size per replica (attention and dense layers split across GPUs; the KV cache is replicated on every rank).",
      ),
      data: pow2("Data-parallel attention ranks per replica (each rank holds only its own sequences' KV cache)."),
      expert: z
        .boolean()
        .optional()
        .describe("Shard the routed experts across the replica's GPUs (expert parallelism)."),
      decodeContext: pow2(
        "Decode context-parallel size: splits each sequence's KV cache across tensor-parallel ranks where the engine supports it.",
      ),
      nodesPerReplica: z
        .int()
        .min(1)
        .max(16)
        .optional()
        .describe("Nodes one replica spans; more than one renders a LeaderWorkerSet."),
    })
    .describe("Overrides of the planner's parallelism; leave unset to let the planner choose."),
  [
    {
      cel: `[${["tensor", "data", "decodeContext"]
        .map((f) => `!has(self.${f}) || self.${f} in [${POWERS_OF_TWO.join(", ")}]`)
        .map((e) => `(${e})`)
        .join(", ")}].all(ok, ok)`,
      message: "spec.parallelism.tensor, data and decodeContext must be powers of two",
      check: (p) => [p.tensor, p.data, p.decodeContext].every((v) => v === undefined || isPowerOfTwo(v)),
    },
    {
      cel: "!has(self.decodeContext) || (has(self.tensor) && self.tensor % self.decodeContext == 0)",
      message: "spec.parallelism.decodeContext needs spec.parallelism.tensor set to a multiple of it",
      fieldPath: ".decodeContext",
      check: (p) => p.decodeContext === undefined || (p.tensor !== undefined && p.tensor % p.decodeContext === 0),
    },
  ],
);
