import { z } from "zod";
import { withRules } from "../rules.ts";

export const AutoscalingSpec = withRules(
  z
    .object({
      mode: z
        .enum(["None", "Builtin", "HPA", "KEDA"])
        .default("None")
        .describe(
          "None: spec.replicas is set by hand or kubectl scale. Builtin: the operator scales on queue depth and " +
            "tokens/s scraped from the engines. HPA or KEDA: the operator renders a HorizontalPodAutoscaler or ScaledObject targeting this resource's scale subresource.",
        ),
      minReplicas: z.int().min(0).max(1000).default(1).describe("Fewest replicas the autoscaler keeps."),
      maxReplicas: z.int().min(1).max(1000).default(1).describe("Most replicas the autoscaler may run."),
      targetQueueDepth: z
        .number()
        .positive({ message: "spec.autoscaling.targetQueueDepth must be greater than 0" })
        .max(100000)
        .default(4)
        .describe(
          "Waiting requests per replica (vllm:num_requests_waiting, sglang:num_queue_reqs) above which it scales up.",
        ),
      targetTokensPerSecond: z
        .number()
        .positive({ message: "spec.autoscaling.targetTokensPerSecond must be greater than 0" })
        .max(1e9)
        .optional()
        .describe(
          "Generated tokens per second per replica (rate of vllm:generation_tokens_total) above which it scales up.",
        ),
      scaleUpStabilizationSeconds: z
        .int()
        .min(0)
        .max(3600)
        .default(60)
        .describe(
          "Window over which the highest recommendation wins before scaling up; replicas still loading count as capacity.",
        ),
      scaleDownStabilizationSeconds: z
        .int()
        .min(0)
        .max(86400)
        .default(1800)
        .describe(
          "Window over which the highest recommendation wins before scaling down; long because a new replica takes many minutes to load.",
        ),
    })
    .describe("How the number of replicas follows load."),
  [
    {
      cel: "self.minReplicas <= self.maxReplicas",
      message: "spec.autoscaling.minReplicas must not exceed spec.autoscaling.maxReplicas",
      fieldPath: ".minReplicas",
      check: (a) => a.minReplicas <= a.maxReplicas,
    },
  ],
);
