// Test builders (after LeaderWorkerSet's test wrappers): a DeepSeekDeployment and its world.
import { parseSpec, type DeepSeekDeploymentSpecInput } from "../api/index.ts";
import { ANNOTATION, renderWeightsPvc, requestedShape, type Dsd } from "../render/index.ts";
import {
  ANNOTATION_PROGRESS,
  ANNOTATION_VERIFIED,
  formatProgressAnnotation,
  type ProgressReport,
} from "../api/weights-contract.ts";
import type { Obj, Observed, Pod } from "./observed.ts";

export const REV = "60d8d70770c6776ff598c94bb586a859a38244f1";
export const NOW = new Date("2026-11-28T12:00:00Z");

export function aDsd(
  name = "flash",
  spec: Partial<DeepSeekDeploymentSpecInput> = {},
  extra: Partial<Dsd["metadata"]> = {},
): Dsd {
  const parsed = parseSpec({ model: { revision: REV }, ...spec });
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join("; "));
  return {
    apiVersion: "serving.deepseek-operator.io/v1alpha1",
    kind: "DeepSeekDeployment",
    metadata: {
      name,
      namespace: "team",
      uid: `uid-${name}`,
      generation: 1,
      finalizers: ["serving.deepseek-operator.io/finalizer"],
      creationTimestamp: "2026-11-28T11:00:00Z",
      ...extra,
    },
    spec: parsed.value,
  };
}

export function world(dsd: Dsd, more: Partial<Observed> = {}): Observed {
  return {
    now: NOW,
    dsd,
    sharingWeights: [dsd],
    pods: [],
    lwsServed: false,
    jobs: { image: "op:1", podLabels: {}, podAnnotations: {} },
    ...more,
  };
}

/** The PVC as the operator applied it, plus what the downloader annotated. */
export function aPvc(dsd: Dsd, annotations: Record<string, string> = {}, owners = [dsd]): Obj {
  const pvc = renderWeightsPvc(dsd, owners, requestedShape(dsd, "164Gi"));
  pvc.metadata.annotations = { ...pvc.metadata.annotations, [ANNOTATION.attempts]: "0", ...annotations };
  // As it was before any owner started deleting.
  pvc.metadata.ownerReferences = owners.map((u) => ({
    apiVersion: u.apiVersion,
    kind: u.kind,
    name: u.metadata.name,
    uid: u.metadata.uid,
  }));
  return { ...pvc, metadata: { ...pvc.metadata, uid: "pvc-uid" } };
}

export function progress(p: Partial<ProgressReport>): Record<string, string> {
  const report: ProgressReport = {
    phase: "Downloading",
    bytesDone: 0,
    bytesTotal: 1000,
    filesDone: 0,
    filesTotal: 47,
    bytesPerSecond: 0,
    etaSeconds: null,
    updatedAt: "2026-11-28T11:59:50Z",
    repo: "deepseek-ai/DeepSeek-V4-Flash",
    revision: REV,
    ...p,
  };
  return { [ANNOTATION_PROGRESS]: formatProgressAnnotation(report) };
}

export const verified = (): Record<string, string> => ({ [ANNOTATION_VERIFIED]: REV });

export function aJob(name: string, status: Record<string, unknown>): Obj {
  return { apiVersion: "batch/v1", kind: "Job", metadata: { name, namespace: "team", uid: "job-uid" }, status };
}

export function aPod(name: string, status: Pod["status"]): Pod {
  return { metadata: { name, labels: { "app.kubernetes.io/instance": "flash" } }, status };
}
