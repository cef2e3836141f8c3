import { z } from "zod";
import { secretKeyRef } from "../fields.ts";
import { qualifiedKeyMap } from "../k8s-names.ts";
import { withRules } from "../rules.ts";

export const ServiceSpec = withRules(
  z
    .object({
      type: z
        .enum(["ClusterIP", "NodePort", "LoadBalancer"])
        .default("ClusterIP")
        .describe("Service type of the OpenAI-compatible endpoint."),
      port: z.int().min(1).max(65535).default(8000).describe("Port of the OpenAI-compatible endpoint."),
      annotations: qualifiedKeyMap(
        "spec.service.annotations",
        z.string().max(4096),
        "Annotations for the Service (for example for a load balancer controller).",
      ).optional(),
      apiKeySecretRef: secretKeyRef(
        "Secret holding the API key clients must send (Authorization: Bearer); the engine reads it from its environment, never from its arguments.",
        "api-key",
      ).optional(),
      allowUnauthenticated: z
        .boolean()
        .optional()
        .describe("Explicit opt-in to expose a LoadBalancer or NodePort Service without spec.service.apiKeySecretRef."),
    })
    .describe("The OpenAI-compatible Service in front of the replicas."),
  [
    {
      cel: "self.type == 'ClusterIP' || has(self.apiKeySecretRef) || (has(self.allowUnauthenticated) && self.allowUnauthenticated)",
      message:
        "spec.service.apiKeySecretRef is required for a LoadBalancer or NodePort Service (or set spec.service.allowUnauthenticated: true to expose the endpoint without a key)",
      fieldPath: ".apiKeySecretRef",
      check: (s) => s.type === "ClusterIP" || s.apiKeySecretRef !== undefined || s.allowUnauthenticated === true,
    },
  ],
);
