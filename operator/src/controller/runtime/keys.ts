// Work-queue keys are "namespace/name" (client-go MetaNamespaceKeyFunc), or "name" for cluster-scoped objects.
import type { KubernetesObject } from "@kubernetes/client-node";

export function objectKey(obj: KubernetesObject): string {
  const name = obj.metadata?.name ?? "";
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

export function key(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
