import { z } from "zod";
import { opaqueObject, stringMap } from "../fields.ts";

const Toleration = z
  .object({
    key: z.string().max(317).optional().describe("Taint key the toleration applies to; empty matches all keys."),
    operator: z.enum(["Exists", "Equal"]).optional().describe("Exists or Equal (default)."),
    value: z.string().max(63).optional().describe("Taint value for the Equal operator."),
    effect: z
      .enum(["NoSchedule", "PreferNoSchedule", "NoExecute"])
      .optional()
      .describe("Taint effect to match; empty matches all."),
    tolerationSeconds: z
      .int()
      .min(0)
      .optional()
      .describe("For NoExecute: how long the pod stays bound after the taint appears."),
  })
  .describe("A core/v1 Toleration.");

export const SchedulingSpec = z
  .object({
    nodeSelector: stringMap(
      "Extra node labels the engine pods require, on top of the GPU product label the operator adds.",
    ).optional(),
    tolerations: z
      .array(Toleration)
      .max(32)
      .optional()
      .describe("Tolerations added to the engine pods, on top of the GPU taint toleration."),
    affinity: opaqueObject("A core/v1 Affinity for the engine pods.").optional(),
    priorityClassName: z.string().max(253).optional().describe("PriorityClass of the engine pods."),
    schedulerName: z
      .string()
      .max(253)
      .optional()
      .describe("Scheduler for the engine pods (for example a gang scheduler for multi-node replicas)."),
  })
  .describe("Where the engine pods may run.");
