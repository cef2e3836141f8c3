import { z } from "zod";
import { stringMap } from "../fields.ts";

export const ServiceSpec = z
  .object({
    type: z
      .enum(["ClusterIP", "NodePort", "LoadBalancer"])
      .default("ClusterIP")
      .describe("Service type of the OpenAI-compatible endpoint."),
    port: z.int().min(1).max(65535).default(8000).describe("Port of the OpenAI-compatible endpoint."),
    annotations: stringMap("Annotations for the Service (for example for a load balancer controller).").optional(),
  })
  .describe("The OpenAI-compatible Service in front of the replicas.");
