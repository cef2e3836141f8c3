// What the planner returns.
import type { Engine, IndexerDtype, KvDtype, ParallelMode, SupportStatus } from "./profiles/types.ts";
import type { OffloadTier } from "./input.ts";

/** One way to lay a replica out over its GPUs. */
export interface Layout {
  gpus: number;
  mode: ParallelMode;
  tensor: number;
  data: number;
  expert: boolean;
  /** Decode context parallelism: each sequence's KV split over this many tensor-parallel ranks. */
  decodeContext: number;
}

/** Memory per GPU and sequences per replica for one layout. */
export interface Capacity {
  gpuMemoryBytes: number;
  weightsBytesPerGpu: number;
  engineReserveBytesPerGpu: number;
  /** gpuMemory − weights − reserve; negative when the weights do not fit. */
  kvBudgetBytesPerGpu: number;
  /** What the engine reserves for one sequence of maxModelLen tokens (calibrated). */
  kvBytesPerSequence: number;
  /** The same without engine calibration: what actually lands in an offload tier. */
  kvTheoryBytesPerSequence: number;
  sequencesPerDataParallelRank: number;
  gpuResidentSequences: number;
  offloadedSequences: number;
  maxConcurrentSequences: number;
}

export interface Plan {
  feasible: boolean;
  model: string;
  engine: Engine;
  gpuType: string;
  gpuResourceName: string;
  /** Node selector that pins pods to this GPU type (GPU feature discovery / AMD labeller). */
  nodeSelector: Record<string, string>;
  gpusPerReplica: number;
  nodesPerReplica: number;
  gpusPerNode: number;
  parallelMode: ParallelMode;
  tensorParallel: number;
  dataParallel: number;
  expertParallel: boolean;
  decodeContextParallel: number;
  maxModelLen: number;
  kvCacheDtype: KvDtype;
  kvIndexerDtype: IndexerDtype;
  /** Theoretical marginal KV bytes per token of context (6,880 bf16; 3,850 fp8). */
  kvCacheBytesPerToken: number;
  kvBytesPerSequence: number;
  weightsBytesPerGpu: number;
  kvBudgetBytesPerGpu: number;
  engineReserveBytesPerGpu: number;
  gpuMemoryBytes: number;
  kvSharding: string;
  sequencesPerDataParallelRank: number;
  gpuResidentSequences: number;
  offloadedSequences: number;
  maxConcurrentSequences: number;
  /** Flags for the engine, argv style; the renderer adds the model path, host and port. */
  engineArgs: string[];
  engineEnv: Record<string, string>;
  image: string;
  /** Oldest engine version known to serve the model (vLLM 0.20.0); undefined when no source states one. */
  engineMinVersion?: string;
  /** Set when the plan spills KV: the renderer mounts this much at mountPath. */
  kvOffload?: { tier: OffloadTier; bytesPerReplica: number; mountPath?: string };
  support: { status: SupportStatus | "experimental"; source: string };
  /** Parts of the plan no published source confirms, e.g. "decode-context-parallel". */
  experimental: string[];
  warnings: string[];
  reason: string;
}
