// metav1.Condition handling with apimachinery's meta.SetStatusCondition semantics:
// lastTransitionTime moves only when status changes; reason/message/observedGeneration follow.
import type { Condition } from "../api/index.ts";
import { compareStrings } from "../util/compare.ts";

export const CONDITION = {
  ready: "Ready",
  available: "Available",
  planValid: "PlanValid",
  weightsReady: "WeightsReady",
  progressing: "Progressing",
  degraded: "Degraded",
  gpusAvailable: "GPUsAvailable",
  /** Whether the shared weights PVC has the shape this deployment asks for (its first user shaped it). */
  weightsStorage: "WeightsStorage",
  /** Whether the last reconcile's writes went through; False carries the apiserver's reason. */
  synced: "Synced",
} as const;

export interface ConditionInput {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

const MAX_MESSAGE = 32768;

/** Whole seconds, like apimachinery's metav1.Time: no spurious diffs from sub-second noise. */
export function nowRfc3339(now: Date): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  generation: number,
  now: Date,
): Condition[] {
  const message = input.message.length > MAX_MESSAGE ? `${input.message.slice(0, MAX_MESSAGE - 3)}...` : input.message;
  const existing = conditions.find((c) => c.type === input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message,
    observedGeneration: generation,
    lastTransitionTime: existing && existing.status === input.status ? existing.lastTransitionTime : nowRfc3339(now),
  };
  const rest = conditions.filter((c) => c.type !== input.type);
  return [...rest, next].sort((a, b) => compareStrings(a.type, b.type));
}

export function setConditions(
  conditions: readonly Condition[],
  inputs: readonly ConditionInput[],
  generation: number,
  now: Date,
): Condition[] {
  return inputs.reduce<Condition[]>((acc, c) => setCondition(acc, c, generation, now), [...conditions]);
}
