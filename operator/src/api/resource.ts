// The DeepSeekDeployment kind: identity constants and the whole-object schema.
import { z } from "zod";
import { DeepSeekDeploymentSpec } from "./spec/index.ts";
import { DeepSeekDeploymentStatus } from "./status.ts";
import { withRules } from "./rules.ts";

export const GROUP = "serving.deepseek-operator.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "DeepSeekDeployment";
export const PLURAL = "deepseekdeployments";
export const SINGULAR = "deepseekdeployment";
export const SHORT_NAMES = ["dsd"];
export const CATEGORIES = ["deepseek", "llm"];

/** Longest name whose child objects (Service, LeaderWorkerSet pods, weights Job) all stay valid. */
export const MAX_NAME_LENGTH = 40;

const Metadata = z
  .looseObject({
    name: z.string().max(253),
    namespace: z.string().max(63).optional(),
    uid: z.string().optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    deletionTimestamp: z.string().optional(),
    finalizers: z.array(z.string()).optional(),
  })
  .describe("Standard object metadata.");

const ResourceObject = z.object({
  apiVersion: z.literal(API_VERSION).describe("serving.deepseek-operator.io/v1alpha1"),
  kind: z.literal(KIND).describe("DeepSeekDeployment"),
  metadata: Metadata,
  spec: DeepSeekDeploymentSpec,
  status: DeepSeekDeploymentStatus.optional(),
});

const NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export const nameRules = [
  {
    cel: `self.metadata.name.size() <= ${MAX_NAME_LENGTH} && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')`,
    message:
      `metadata.name must be at most ${MAX_NAME_LENGTH} characters of lower-case letters, digits and '-', ` +
      `starting with a letter (it names the Service, the engine pods and the weights Job)`,
    check: (o: z.output<typeof ResourceObject>) =>
      o.metadata.name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(o.metadata.name),
  },
];

export const DeepSeekDeployment = withRules(ResourceObject, nameRules);
export type DeepSeekDeployment = z.output<typeof DeepSeekDeployment>;
