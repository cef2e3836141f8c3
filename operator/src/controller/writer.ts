// The reconciler's writes, over the runtime's server-side-apply client.
import type { KubernetesObject } from "@kubernetes/client-node";
import { API_VERSION, KIND, type DeepSeekDeployment, type DeepSeekDeploymentStatus } from "../api/index.ts";
import type { Obj } from "./deepseek/observed.ts";
import { FINALIZER, LWS_API, type Dsd, type KubeObject } from "../render/index.ts";
import type { Logger } from "../util/log.ts";
import type { ApplyClient } from "./runtime/apply.ts";
import type { ObjectRef } from "./deepseek/decide.ts";
import type { Writer } from "./deepseek/reconciler.ts";
import type { EventRecorder } from "./runtime/events.ts";

export function apiWriter(client: ApplyClient, events: EventRecorder, log: Logger): Writer {
  return {
    async apply(obj: KubeObject) {
      // LeaderWorkerSet's installed CRD may lag the fields we render: warn rather than refuse.
      return client.apply(obj as KubernetesObject, { fieldValidation: obj.apiVersion === LWS_API ? "Warn" : "Strict" }) as Promise<KubeObject>;
    },
    async delete(ref: ObjectRef) {
      await client.delete({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } });
    },
    async applyStatus(dsd: Dsd, status: DeepSeekDeploymentStatus) {
      await client.applyStatus({ apiVersion: dsd.apiVersion, kind: dsd.kind, metadata: { name: dsd.metadata.name, namespace: dsd.metadata.namespace }, status });
    },
    async setFinalizer(dsd: Dsd, present: boolean) {
      // Applying only metadata.finalizers: the field manager owns just its own entry of the set.
      await client.apply({ apiVersion: dsd.apiVersion, kind: dsd.kind, metadata: { name: dsd.metadata.name, namespace: dsd.metadata.namespace, finalizers: present ? [FINALIZER] : [] } });
      log.info({ finalizer: present ? "added" : "removed" }, "finalizer");
    },
    async readFresh(namespace, pvcName) {
      const [pvc, list] = await Promise.all([
        client.get<Obj & KubernetesObject>({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: pvcName, namespace } }),
        client.list<DeepSeekDeployment & KubernetesObject>(API_VERSION, KIND, { namespace }),
      ]);
      return { pvc, dsds: list.items };
    },
    event: (dsd, e) => events.record(dsd as never, e),
  };
}
