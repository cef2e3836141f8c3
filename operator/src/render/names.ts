// Names and labels of every child object, in one place: the controller's mappers, the renderers
// and the tests must agree on them.
import { createHash } from "node:crypto";
import { GROUP } from "../api/index.ts";

export const MANAGED_BY = "deepseek-operator";
export const FINALIZER = `${GROUP}/finalizer`;

export const LABEL = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  managedBy: "app.kubernetes.io/managed-by",
  version: "app.kubernetes.io/version",
  weights: `${GROUP}/weights`,
  gpuProduct: "nvidia.com/gpu.product",
} as const;

export const ANNOTATION = {
  model: `${GROUP}/model`,
  revision: `${GROUP}/revision`,
  attempts: `${GROUP}/weights-attempts`,
  lastFailure: `${GROUP}/weights-last-failure`,
} as const;

/** DNS-1123 label from free text: lower-case, [a-z0-9-], at most `max` characters. */
export function dnsSafe(s: string, max = 63): string {
  const cleaned = s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return cleaned.slice(0, max).replace(/-+$/, "");
}

export function shortHash(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 8);
}

/**
 * One weights PVC per (model, revision, source) in a namespace, shared by every DeepSeekDeployment
 * that asks for it. The hash keeps names unique when the readable prefix is truncated, and keeps
 * bytes from different sources (another mirror, a URL) apart. `source` is undefined for the public
 * Hub, so those PVCs keep the name they had before sources were told apart.
 */
export function weightsName(model: string, revision: string, source?: string): string {
  const repo = model.split("/").pop() ?? model;
  const hash = source === undefined ? shortHash(model, revision) : shortHash(model, revision, source);
  return `weights-${dnsSafe(repo, 32)}-${dnsSafe(revision, 7)}-${hash.slice(0, 5)}`;
}

export function engineLabels(dsdName: string): Record<string, string> {
  return { [LABEL.name]: "deepseek-engine", [LABEL.instance]: dsdName, [LABEL.component]: "engine" };
}

export function commonLabels(dsdName: string, component: string): Record<string, string> {
  return {
    [LABEL.name]: component === "engine" ? "deepseek-engine" : `deepseek-${component}`,
    [LABEL.instance]: dsdName,
    [LABEL.component]: component,
    [LABEL.partOf]: "deepseek-operator",
    [LABEL.managedBy]: MANAGED_BY,
  };
}

export function engineSelector(dsdName: string): string {
  return Object.entries(engineLabels(dsdName))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/**
 * The scale subresource's selector (status.selector): one pod per replica, so an HPA averaging a Pods
 * metric counts a multi-node replica once, by its leader (LeaderWorkerSet's worker index 0).
 */
export function scaleSelector(dsdName: string, multiNode: boolean): string {
  return engineSelector(dsdName) + (multiNode ? ",leaderworkerset.sigs.k8s.io/worker-index=0" : "");
}
