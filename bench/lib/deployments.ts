// The DeepSeekDeployments the control-plane benches create, and the children the operator applies for one,
// as a plain client sends them (the reconcile bench's floor).
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { API_VERSION, GROUP, PLURAL, VERSION, parseSpec } from "../../operator/src/api/index.ts";
import {
  renderService,
  renderWeightsPull,
  renderWeightsPvc,
  requestedShape,
  defaultWeightsSize,
  type Dsd,
  type KubeObject,
} from "../../operator/src/render/index.ts";

/** The custom resource, as CustomObjectsApi takes it. */
export const DSD_RESOURCE = { group: GROUP, version: VERSION, plural: PLURAL };

/** The i-th deployment of a bench: a revision of its own (so its own PVC, Job and identities); `salt` is hex. */
export function benchDeployment(ns: string, name: string, i: number, salt: string, weights?: Record<string, unknown>) {
  return {
    apiVersion: API_VERSION,
    kind: "DeepSeekDeployment",
    metadata: { name, namespace: ns },
    spec: {
      model: {
        revision: (salt + i.toString(16)).padStart(40, "0").slice(-40),
        source: { huggingFace: { endpoint: "http://127.0.0.1:9" } },
      },
      gpu: { type: "H200" },
      replicas: 1,
      ...(weights ? { weights } : {}),
    },
  };
}

/**
 * The six children the operator applies for a new deployment (PVC, ServiceAccount, Role, RoleBinding, Job,
 * Service), rendered by the operator's own functions. With the created deployment's `uid` they carry the
 * owner references the operator sets; without one (nothing created to point at) none.
 */
export function floorChildren(manifest: ReturnType<typeof benchDeployment>, i: number, uid?: string): KubeObject[] {
  const parsed = parseSpec(manifest.spec);
  if (!parsed.ok) throw new Error("bad bench spec");
  const dsd = {
    ...manifest,
    metadata: { ...manifest.metadata, uid: uid ?? `00000000-0000-0000-0000-${String(i).padStart(12, "0")}` },
    spec: parsed.value,
  } as unknown as Dsd;
  const pvc = renderWeightsPvc(dsd, [dsd], requestedShape(dsd, defaultWeightsSize(159_617_149_040)));
  const objects: KubeObject[] = [
    pvc,
    ...renderWeightsPull(
      dsd,
      { ...pvc, metadata: { ...pvc.metadata } },
      { image: "x", podLabels: {}, podAnnotations: {} },
    ),
    renderService(dsd, false),
  ];
  if (!uid) for (const o of objects) o.metadata.ownerReferences = [];
  return objects;
}

/** The status the operator wrote for `name`, once it has written one (the first with observedGeneration). */
export async function writtenStatus(api: CustomObjectsApi, ns: string, name: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 120; i++) {
    const o = (await api.getNamespacedCustomObject({ ...DSD_RESOURCE, namespace: ns, name })) as {
      status?: Record<string, unknown>;
    };
    if (o.status?.observedGeneration !== undefined) return o.status;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`bench: the operator wrote no status for ${ns}/${name} within 60 s`);
}
