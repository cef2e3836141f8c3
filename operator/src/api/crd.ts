// The CustomResourceDefinition, built from the zod schema: the one source of truth for the API.
import { toStructuralSchema, type JsonSchema } from "./json-schema.ts";
import { DeepSeekDeploymentSpec } from "./spec/index.ts";
import { DeepSeekDeploymentStatus } from "./status.ts";
import { CATEGORIES, GROUP, KIND, nameRules, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from "./resource.ts";

export const PRINTER_COLUMNS = [
  {
    name: "Phase",
    type: "string",
    jsonPath: ".status.phase",
    description: "Pending, Downloading, Loading, Serving, Degraded or Failed.",
  },
  { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas", description: "Replicas ready to serve." },
  { name: "Desired", type: "integer", jsonPath: ".spec.replicas", description: "Desired replicas." },
  { name: "GPUs", type: "integer", jsonPath: ".status.gpus", description: "GPUs the desired replicas use." },
  {
    name: "Weights",
    type: "string",
    jsonPath: ".status.weights.progress",
    description: "Weights downloaded and verified.",
  },
  {
    name: "ETA",
    type: "string",
    jsonPath: ".status.weights.eta",
    description: "Time until the weights are downloaded, e.g. 12m or 1h5m.",
  },
  {
    name: "Queue",
    type: "number",
    jsonPath: ".status.metrics.queueDepth",
    description: "Requests waiting across replicas.",
  },
  {
    name: "Tokens/s",
    type: "number",
    jsonPath: ".status.metrics.tokensPerSecond",
    description: "Generated tokens per second.",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  { name: "Model", type: "string", jsonPath: ".spec.model.name", priority: 1, description: "Hugging Face repo id." },
  {
    name: "Plan",
    type: "string",
    jsonPath: ".status.plan.summary",
    priority: 1,
    description: "GPUs and parallelism per replica.",
  },
  {
    name: "Endpoint",
    type: "string",
    jsonPath: ".status.endpoint",
    priority: 1,
    description: "OpenAI-compatible URL.",
  },
] as const;

/** Spec fields a list can select on (`--field-selector spec.model.revision=…`). */
export const SELECTABLE_FIELDS = [".spec.model.name", ".spec.model.revision"] as const;

export function openApiSchema(): JsonSchema {
  return {
    type: "object",
    description:
      "DeepSeekDeployment serves DeepSeek-V4-Flash: it pulls the weights once, plans GPUs and KV cache for the " +
      "context length, runs the engine replicas and scales them on load.",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string", description: "APIVersion of this object: serving.deepseek-operator.io/v1alpha1." },
      kind: { type: "string", description: "Kind of this object: DeepSeekDeployment." },
      // The apiserver refuses anything on metadata but name/generateName constraints, even a description.
      metadata: { type: "object" },
      spec: toStructuralSchema(DeepSeekDeploymentSpec),
      status: toStructuralSchema(DeepSeekDeploymentStatus),
    },
    "x-kubernetes-validations": nameRules.map((r) => ({ rule: r.cel, message: r.message })),
  };
}

export function customResourceDefinition(): JsonSchema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { "app.kubernetes.io/name": "deepseek-operator", "app.kubernetes.io/part-of": "deepseek-operator" },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: SHORT_NAMES,
        categories: CATEGORIES,
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchema() },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: ".spec.replicas",
              statusReplicasPath: ".status.replicas",
              labelSelectorPath: ".status.selector",
            },
          },
          additionalPrinterColumns: PRINTER_COLUMNS,
          // The deployments that share a weights PVC are found with a field selector on these, instead
          // of listing the whole namespace (the operator's finalizer needs a fresh read of them).
          selectableFields: SELECTABLE_FIELDS.map((jsonPath) => ({ jsonPath })),
        },
      ],
    },
  };
}
