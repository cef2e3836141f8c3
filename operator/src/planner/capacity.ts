// Memory per GPU and sequences per replica for one layout. The KV cache of a sequence lives on
// every tensor-parallel rank of its data-parallel rank (one KV head, so TP cannot split it),
// unless decode context parallelism splits it; data-parallel ranks hold disjoint sequences.
import { kvEngineBytesPerSequence, kvTheoryBytesPerSequence } from "./kv.ts";
import { weightsBytesPerGpu } from "./weights.ts";
import type { EngineProfile, GpuProfile, IndexerDtype, KvDtype, ModelProfile } from "./profiles/types.ts";
import type { Capacity, Layout } from "./types.ts";

export interface CapacityContext {
  model: ModelProfile;
  gpu: GpuProfile;
  engine: EngineProfile;
  kvDtype: KvDtype;
  indexerDtype: IndexerDtype;
  maxModelLen: number;
  offloadBytesPerReplica?: number;
}

export function engineReserveBytes(engine: EngineProfile, gpu: GpuProfile): number {
  return Math.ceil(gpu.memory.bytes * (1 - engine.memoryFraction.value)) + engine.activationReserve.bytes;
}

export function evaluate(ctx: CapacityContext, l: Layout): Capacity {
  const gpuMemoryBytes = ctx.gpu.memory.bytes;
  const weights = weightsBytesPerGpu(ctx.model, ctx.engine, l);
  const reserve = engineReserveBytes(ctx.engine, ctx.gpu);
  const budget = gpuMemoryBytes - weights - reserve;
  const perSeq = kvEngineBytesPerSequence(ctx.model, ctx.engine.id, ctx.kvDtype, ctx.indexerDtype, ctx.maxModelLen);
  const theory = kvTheoryBytesPerSequence(ctx.model, ctx.kvDtype, ctx.indexerDtype, ctx.maxModelLen);
  const perRank = budget > 0 ? Math.floor((budget * l.decodeContext) / perSeq) : 0;
  const resident = perRank * l.data;
  // An offload tier holds one copy per tensor-parallel rank too (each rank spills its own replica).
  const copies = l.tensor / l.decodeContext;
  const offloaded =
    ctx.offloadBytesPerReplica && perRank > 0 ? Math.floor(ctx.offloadBytesPerReplica / (theory * copies)) : 0;
  return {
    gpuMemoryBytes,
    weightsBytesPerGpu: weights,
    engineReserveBytesPerGpu: reserve,
    kvBudgetBytesPerGpu: budget,
    kvBytesPerSequence: perSeq,
    kvTheoryBytesPerSequence: theory,
    sequencesPerDataParallelRank: perRank,
    gpuResidentSequences: resident,
    offloadedSequences: offloaded,
    maxConcurrentSequences: resident + offloaded,
  };
}
