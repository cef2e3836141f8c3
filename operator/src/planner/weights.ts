// Weight bytes each GPU of a replica holds. Assumptions (docs/planner.md): routed experts are
// split over every GPU under expert parallelism (and always in SGLang, whose MoE layers span all
// --tp GPUs), otherwise over the tensor-parallel group only; all other weights (attention, shared
// expert, embeddings) are split by tensor parallelism and replicated on every data-parallel rank.
import type { EngineProfile, ModelProfile } from "./profiles/types.ts";

export interface WeightLayout {
  tensor: number;
  data: number;
  expert: boolean;
}

export function weightsBytesPerGpu(model: ModelProfile, engine: EngineProfile, l: WeightLayout): number {
  const routed = model.weights.routedExpertBytes;
  const rest = model.weights.totalBytes - routed;
  const expertShards = l.expert || engine.moeSpansDataParallel ? l.tensor * l.data : l.tensor;
  return Math.ceil(routed / expertShards) + Math.ceil(rest / l.tensor);
}
