import { z } from "zod";

export const RolloutSpec = z
  .object({
    strategy: z
      .enum(["Auto", "Surge", "OneAtATime"])
      .default("Auto")
      .describe(
        "Auto: add a new replica before removing an old one only when free GPUs of the type are known to exist, " +
          "otherwise replace one replica at a time. Surge: always add first (needs spare GPUs). OneAtATime: never more replicas than desired.",
      ),
    maxSurge: z.int().min(0).max(100).default(1).describe("Replicas above the desired count during a surge rollout."),
    maxUnavailable: z
      .int()
      .min(0)
      .max(100)
      .default(1)
      .describe("Replicas that may be down during a one-at-a-time rollout."),
  })
  .describe("How an update replaces running replicas without needing twice the GPUs.");
