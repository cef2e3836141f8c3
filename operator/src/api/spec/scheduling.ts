import { z } from "zod";
import { opaqueObject } from "../fields.ts";
import { dnsSubdomain, labelValue, qualifiedKeyMap, qualifiedName } from "../k8s-names.ts";
import { withRules } from "../rules.ts";

const Toleration = withRules(
  z
    .object({
      key: qualifiedName("Taint key the toleration applies to; empty matches all keys.", true).optional(),
      operator: z.enum(["Exists", "Equal"]).optional().describe("Exists or Equal (default)."),
      value: labelValue("Taint value for the Equal operator.").optional(),
      effect: z
        .enum(["NoSchedule", "PreferNoSchedule", "NoExecute"])
        .optional()
        .describe("Taint effect to match; empty matches all."),
      tolerationSeconds: z
        .int()
        .min(0)
        .max(2 ** 31 - 1)
        .optional()
        .describe("For NoExecute: how long the pod stays bound after the taint appears."),
    })
    .describe("A core/v1 Toleration."),
  [
    {
      cel: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
      message: "spec.scheduling.tolerations[].tolerationSeconds needs effect NoExecute",
      fieldPath: ".tolerationSeconds",
      check: (t) => t.tolerationSeconds === undefined || t.effect === "NoExecute",
    },
    {
      cel: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
      message: "spec.scheduling.tolerations[].value must be empty when operator is Exists",
      fieldPath: ".value",
      check: (t) => t.operator !== "Exists" || !t.value,
    },
    {
      cel: "has(self.key) && self.key != '' || (has(self.operator) && self.operator == 'Exists')",
      message: "spec.scheduling.tolerations[].operator must be Exists when key is empty",
      fieldPath: ".operator",
      check: (t) => Boolean(t.key) || t.operator === "Exists",
    },
  ],
);

// The three parts of a core/v1 Affinity are typed as objects (a string or a list there is refused at
// admission, and an unknown part is pruned); their contents are kept as is.
const Affinity = z
  .object({
    nodeAffinity: opaqueObject("A core/v1 NodeAffinity.").optional(),
    podAffinity: opaqueObject("A core/v1 PodAffinity.").optional(),
    podAntiAffinity: opaqueObject("A core/v1 PodAntiAffinity.").optional(),
  })
  .describe("A core/v1 Affinity for the engine pods.");

export const SchedulingSpec = z
  .object({
    nodeSelector: qualifiedKeyMap(
      "spec.scheduling.nodeSelector",
      labelValue("A node label value."),
      "Extra node labels the engine pods require, on top of the GPU product label the operator adds.",
    ).optional(),
    tolerations: z
      .array(Toleration)
      .max(32)
      .optional()
      .describe("Tolerations added to the engine pods, on top of the GPU taint toleration."),
    affinity: Affinity.optional(),
    priorityClassName: dnsSubdomain("PriorityClass of the engine pods.").optional(),
    schedulerName: dnsSubdomain(
      "Scheduler for the engine pods (for example a gang scheduler for multi-node replicas).",
    ).optional(),
  })
  .describe("Where the engine pods may run.");
