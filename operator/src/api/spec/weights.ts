import { z } from "zod";
import { positiveInt, quantity } from "../fields.ts";
import { dnsSubdomain } from "../k8s-names.ts";

export const WeightsSpec = z
  .object({
    storageClassName: dnsSubdomain(
      "StorageClass of the shared weights PVC; the cluster default when unset.",
    ).optional(),
    size: quantity(
      "Size of the weights PVC; defaults to the model's known size plus 10% headroom. Must hold the whole model.",
    ).optional(),
    accessMode: z
      .enum(["ReadWriteMany", "ReadWriteOnce", "ReadOnlyMany"])
      .default("ReadWriteMany")
      .describe("Access mode of the weights PVC. ReadWriteMany lets replicas on many nodes share one copy."),
    reclaimPolicy: z
      .enum(["Retain", "Delete"])
      .default("Retain")
      .describe(
        "Retain (default) keeps the weights PVC when the DeepSeekDeployment is deleted; Delete removes it with the last DeepSeekDeployment using it.",
      ),
    download: z
      .object({
        concurrency: positiveInt("Files downloaded at once.", 64).default(8),
        stallTimeoutSeconds: positiveInt(
          "A transfer that receives no bytes for this long is abandoned and retried.",
          3600,
        ).default(120),
        timeoutSeconds: positiveInt("The whole download fails after this long.", 7 * 24 * 3600).default(6 * 3600),
      })
      .default({ concurrency: 8, stallTimeoutSeconds: 120, timeoutSeconds: 6 * 3600 })
      .describe("Tuning of the download Job."),
  })
  .describe("Shared storage for the weights: one PVC per model and revision in the namespace.");
