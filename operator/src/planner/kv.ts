// KV-cache size of DeepSeek-V4-Flash, from the per-entry byte sizes and the layer mix
// (model-facts §2.2, the vLLM-blog formula). Per sequence of S tokens and per layer:
//   ratio r > 0: entry × (min(S, window) + S/r) + indexerEntry × S/r   (indexer on ratio-4 layers only)
//   ratio 0:     entry × min(S, window)
import type { Engine, IndexerDtype, KvDtype, ModelProfile } from "./profiles/types.ts";

/** Marginal bytes per token of context (the window term excluded): 6,880 bf16, 3,850.25 fp8. */
export function kvBytesPerToken(model: ModelProfile, kv: KvDtype, indexer: IndexerDtype): number {
  const entry = model.kv.entryBytes[kv];
  const idx = model.kv.indexerEntryBytes[indexer];
  let total = 0;
  for (const g of model.architecture.layers) {
    if (g.compressRatio === 0) continue;
    total += (g.count * (entry + (g.indexer ? idx : 0))) / g.compressRatio;
  }
  return total;
}

/** The uncompressed window every layer keeps per sequence (≈3.1 MiB at fp8, 5.4 MiB at bf16). */
export function kvWindowBytes(model: ModelProfile, kv: KvDtype, seqLen: number): number {
  const layers = model.architecture.layers.reduce((n, g) => n + g.count, 0);
  return layers * Math.min(seqLen, model.architecture.windowTokens) * model.kv.entryBytes[kv];
}

/** Theoretical bytes one sequence of seqLen tokens occupies. */
export function kvTheoryBytesPerSequence(
  model: ModelProfile,
  kv: KvDtype,
  indexer: IndexerDtype,
  seqLen: number,
): number {
  return Math.ceil(kvBytesPerToken(model, kv, indexer) * seqLen + kvWindowBytes(model, kv, seqLen));
}

/** What the engine actually reserves per sequence: theory scaled, plus the fixed per-request term. */
export function kvEngineBytesPerSequence(
  model: ModelProfile,
  engine: Engine,
  kv: KvDtype,
  indexer: IndexerDtype,
  seqLen: number,
): number {
  const c = model.calibration[engine];
  return Math.ceil(c.scale * kvTheoryBytesPerSequence(model, kv, indexer, seqLen) + c.fixedBytesPerSequence);
}
