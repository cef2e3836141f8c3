// Event handlers that turn informer events into work-queue keys: controller-runtime's EnqueueRequestForObject,
// EnqueueRequestForOwner (OnlyControllerOwner) and EnqueueRequestsFromMapFunc. Handlers never reconcile; they
// only compute keys, so the queue can dedupe bursts and the reconciler stays level-triggered.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { InformerEventType, InformerHandler } from "./informer.ts";
import { key, objectKey } from "./keys.ts";

/** Keys of the primary objects an event on `obj` should reconcile. */
export type KeyMapper<T extends KubernetesObject = KubernetesObject> = (obj: T) => string[];

/** Decides whether an event should enqueue at all (controller-runtime predicates). */
export type Predicate<T extends KubernetesObject = KubernetesObject> = (
  obj: T,
  type: InformerEventType,
  old?: T,
) => boolean;

/** Anything with add(key); the WorkQueue, or a test spy. */
export interface KeyQueue {
  add(key: string): void;
}

/** The object's own key (EnqueueRequestForObject). */
export const selfKey: KeyMapper = (obj) => [objectKey(obj)];

export interface OwnerKind {
  /** API group of the owner ("" for core); any version of the group matches, as in controller-runtime. */
  group: string;
  kind: string;
}

function groupOf(apiVersion: string | undefined): string {
  if (!apiVersion) return "";
  const i = apiVersion.indexOf("/");
  return i < 0 ? "" : apiVersion.slice(0, i);
}

/**
 * The key of the object's controller owner of the given kind (EnqueueRequestForOwner with OnlyControllerOwner):
 * only the ownerReference with `controller: true` counts, and owners live in the object's namespace.
 */
export function ownerKeyMapper(owner: OwnerKind): KeyMapper {
  return (obj) => {
    const ref = obj.metadata?.ownerReferences?.find((r) => r.controller === true);
    if (!ref || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) return [];
    return [key(obj.metadata?.namespace, ref.name)];
  };
}

/**
 * Keys from labels of the form `<prefix>/<name>` on an object that is shared rather than owned (a weights PVC
 * used by several DeepSeekDeployments carries one label per user, e.g.
 * `users.serving.deepseek-operator.io/flash-a: ""`). The users are in the object's namespace.
 */
export function labelPrefixMapper(prefix: string): KeyMapper {
  const p = `${prefix}/`;
  return (obj) =>
    Object.keys(obj.metadata?.labels ?? {})
      .filter((l) => l.startsWith(p) && l.length > p.length)
      .map((l) => key(obj.metadata?.namespace, l.slice(p.length)));
}

/** Drop update events that did not change metadata.generation (status-only writes); adds, deletes and resyncs pass. */
export const generationChanged: Predicate = (obj, type, old) =>
  type !== "update" || old?.metadata?.generation !== obj.metadata?.generation;

/**
 * An informer handler that adds the mapped keys to the queue. On an update, keys mapped from the old object are
 * enqueued too, so an object that changed owner or lost a user label still wakes the one it left.
 */
export function enqueueFor<T extends KubernetesObject>(
  queue: KeyQueue,
  mapper: KeyMapper<T>,
  predicate?: Predicate<T>,
): InformerHandler<T> {
  return (obj, type, old) => {
    if (predicate && !predicate(obj, type, old)) return;
    const keys = new Set(mapper(obj));
    if (old) for (const k of mapper(old)) keys.add(k);
    for (const k of keys) queue.add(k);
  };
}
