// Known weight sizes, for the admission rule "the weights volume must hold the model".
// Derived from the planner's model profiles, so adding a model variant there covers it here. Only
// exact sizes: refusing a correctly sized volume on an estimate would be worse than no check.
import { MODEL_PROFILES } from "../planner/profiles/models.ts";

export const MODEL_WEIGHT_BYTES: Readonly<Record<string, number>> = Object.fromEntries(
  MODEL_PROFILES.filter((p) => !p.weights.estimate).map((p) => [p.id, p.weights.totalBytes]),
);
