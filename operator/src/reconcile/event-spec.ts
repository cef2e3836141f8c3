// What an Event says, decided by the pure reconcile; the controller runtime's recorder writes it.
import type { KubernetesObject, V1ObjectReference } from "@kubernetes/client-node";

export type EventType = "Normal" | "Warning";

export interface EventSpec {
  type: EventType;
  /** Why: UpperCamelCase, machine-readable ("WeightsDownloadFailed"). */
  reason: string;
  /** What the controller did or failed to do ("Download", "Apply", "Scale"). */
  action: string;
  /** Human-readable detail; truncated to 1024 bytes. */
  note: string;
  related?: KubernetesObject | V1ObjectReference;
}
