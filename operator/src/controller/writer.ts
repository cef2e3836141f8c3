// The reconciler's writes, over the runtime's server-side-apply client.
import type { KubernetesObject } from "@kubernetes/client-node";
import { API_VERSION, KIND, type DeepSeekDeployment, type DeepSeekDeploymentStatus } from "../api/index.ts";
import type { Obj } from "../reconcile/observed.ts";
import { FINALIZER, LWS_API, type Dsd, type KubeObject } from "../render/index.ts";
import type { Logger } from "../util/log.ts";
import type { ApplyClient } from "./runtime/apply.ts";
import type { ObjectRef } from "../reconcile/decide.ts";
import type { Writer } from "./deepseek/reconciler.ts";
import type { EventRecorder } from "./runtime/events.ts";
import { isNotFound } from "./runtime/errors.ts";

/** JSON patch ops that add or remove our finalizer, guarded by the object's uid. */
export function finalizerPatch(uid: string, finalizers: readonly string[], present: boolean): object[] {
  const guard = { op: "test", path: "/metadata/uid", value: uid };
  const i = finalizers.indexOf(FINALIZER);
  if (present) {
    if (i >= 0) return [guard];
    // "add" of the whole list replaces one that appeared meanwhile (no duplicate); appending is
    // guarded by the list as we saw it, so a stale view fails the test instead of adding twice.
    return finalizers.length === 0
      ? [guard, { op: "add", path: "/metadata/finalizers", value: [FINALIZER] }]
      : [
          guard,
          { op: "test", path: "/metadata/finalizers", value: [...finalizers] },
          { op: "add", path: "/metadata/finalizers/-", value: FINALIZER },
        ];
  }
  if (i < 0) return [guard];
  // Test the entry too: the list may have changed since the cache saw it.
  return [
    guard,
    { op: "test", path: `/metadata/finalizers/${i}`, value: FINALIZER },
    { op: "remove", path: `/metadata/finalizers/${i}` },
  ];
}

export function apiWriter(client: ApplyClient, events: EventRecorder, log: Logger): Writer {
  return {
    async apply(obj: KubeObject) {
      // LeaderWorkerSet's installed CRD may lag the fields we render: warn rather than refuse.
      return client.apply<KubeObject>(obj, {
        fieldValidation: obj.apiVersion === LWS_API ? "Warn" : "Strict",
      });
    },
    async delete(ref: ObjectRef) {
      await client.delete(
        { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } },
        ref.preconditions ? { preconditions: ref.preconditions } : {},
      );
    },
    async applyStatus(dsd: Dsd, status: DeepSeekDeploymentStatus) {
      await client.applyStatus({
        apiVersion: dsd.apiVersion,
        kind: dsd.kind,
        metadata: { name: dsd.metadata.name, namespace: dsd.metadata.namespace },
        status,
      });
    },
    async setFinalizer(dsd: Dsd, present: boolean) {
      // A JSON patch with the uid as a precondition, not an apply: apply upserts, and a second attempt
      // from a stale cache after the object is gone would try to create a new one.
      const target = {
        apiVersion: dsd.apiVersion,
        kind: dsd.kind,
        metadata: { name: dsd.metadata.name, namespace: dsd.metadata.namespace },
      };
      const ops = finalizerPatch(dsd.metadata.uid, dsd.metadata.finalizers ?? [], present);
      if (ops.length === 1) return; // nothing to change beyond the precondition
      try {
        await client.patch(target, ops, "json");
        log.info({ finalizer: present ? "added" : "removed" }, "finalizer");
      } catch (err) {
        if (!isNotFound(err)) throw err; // gone already: nothing left to finalize
      }
    },
    async readFresh(namespace, pvcName, model) {
      // Only the deployments sharing these weights (selectable fields of the CRD): deleting many
      // deployments at once would otherwise list the whole namespace once per deletion.
      const fieldSelector = `spec.model.name=${escapeFieldValue(model.name)},spec.model.revision=${escapeFieldValue(model.revision)}`;
      const [pvc, list] = await Promise.all([
        client.get<Obj & KubernetesObject>({
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: pvcName, namespace },
        }),
        client.list<DeepSeekDeployment & KubernetesObject>(API_VERSION, KIND, { namespace, fieldSelector }),
      ]);
      return { pvc, dsds: list.items };
    },
    event: (dsd, e) => events.record(dsd, e),
  };
}

/** A field selector value as apimachinery's fields.EscapeValue writes it. */
export function escapeFieldValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/,/g, "\\,").replace(/=/g, "\\=");
}
