// Known weight sizes, for the admission rule "the weights volume must hold the model".
// TEMPORARY until the planner's model profiles land; then this derives from them.
export const MODEL_WEIGHT_BYTES: Readonly<Record<string, number>> = {
  "deepseek-ai/DeepSeek-V4-Flash": 159_617_149_040,
};
