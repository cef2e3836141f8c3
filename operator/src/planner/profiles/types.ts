// Shapes of the planner's data. Adding a GPU or a model variant means adding an object that
// satisfies these types to gpus.ts / models.ts (and, if an engine recipe covers it, a rule in
// support.ts); no planner code changes.

export type Engine = "vllm" | "sglang";
export const ENGINES: readonly Engine[] = ["vllm", "sglang"];

export type Vendor = "nvidia" | "amd";
export type KvDtype = "fp8" | "bf16";
export type IndexerDtype = "bf16" | "fp8" | "fp4";

/**
 * How attention is parallelised inside a replica. "tp": one attention group split by tensor
 * parallelism (the single-head KV cache is replicated on every rank). "dp-attention": one attention
 * rank per data-parallel group, each holding only its own sequences' KV cache.
 */
export type ParallelMode = "tp" | "dp-attention";

/** Where a number comes from: a published source, arithmetic on sources, or our estimate. */
export interface Sourced {
  source: string;
  estimate?: boolean;
}

export interface LayerGroup {
  /** compress_ratios entry: 0 = sliding window only, r > 0 = one compressed entry per r tokens. */
  compressRatio: number;
  count: number;
  /** Ratio-4 (CSA) layers carry an indexer key per compressed entry. */
  indexer: boolean;
}

export interface ModelArchitecture {
  layers: readonly LayerGroup[];
  /** Every layer keeps this many most recent tokens uncompressed, per sequence. */
  windowTokens: number;
  attentionHeads: number;
  routedExperts: number;
  maxPositionEmbeddings: number;
  maxOutputTokens: number;
  /** Flash-Max (Think-Max) needs at least this context. */
  flashMaxMinContext: number;
}

export interface KvLayout {
  /** Bytes of one stored KV entry (the 512-wide shared K=V latent), per KV dtype, as the engines lay it out. */
  entryBytes: Readonly<Record<KvDtype, number>>;
  /** Bytes of one indexer key entry (128 dims), per indexer dtype. */
  indexerEntryBytes: Readonly<Record<IndexerDtype, number>>;
  /** Entry sizes no source states exactly. */
  estimatedIndexerDtypes: readonly IndexerDtype[];
  source: string;
}

/**
 * Turns the theoretical KV size into what an engine actually reserves:
 * bytes per sequence = scale × (theory) + fixedBytesPerSequence.
 */
export interface KvCalibration extends Sourced {
  scale: number;
  fixedBytesPerSequence: number;
  /** maxModelLen range the measurements cover; outside it the term is extrapolated. */
  measuredContextRange?: readonly [number, number];
}

export interface ModelProfile {
  /** Hugging Face repo id. */
  id: string;
  description: string;
  /** Chat/instruct checkpoints get parsers; a base model is for further training. */
  chat: boolean;
  /** Weight storage: experts FP4 with FP8 attention, pure FP8, or NVIDIA NVFP4. */
  format: "mxfp4-experts" | "fp8" | "nvfp4";
  revision?: Sourced & { sha: string };
  weights: Sourced & {
    totalBytes: number;
    fileCount?: number;
    /** Routed-expert bytes (sharded by expert parallelism); the rest is attention, shared expert, embeddings. */
    routedExpertBytes: number;
  };
  architecture: ModelArchitecture;
  kv: KvLayout;
  calibration: Readonly<Record<Engine, KvCalibration>>;
}

export interface GpuProfile {
  id: string;
  aliases: readonly string[];
  vendor: Vendor;
  arch: "hopper" | "blackwell" | "cdna3" | "cdna4";
  /** Memory the driver reports (nvidia-smi / rocm-smi total), not the marketing figure. */
  memory: Sourced & { bytes: number };
  fp8: boolean;
  fp4: boolean;
  resourceName: "nvidia.com/gpu" | "amd.com/gpu";
  /** Node label the GPU's discovery daemon sets; values seen for this GPU, the first is the canonical one. */
  nodeLabel: { key: string; values: readonly string[] };
  defaultGpusPerNode: number;
}

export interface EngineProfile {
  id: Engine;
  minVersion?: string;
  images: Readonly<Record<Vendor, string>>;
  /** Fraction of GPU memory the engine may use for weights + KV (--gpu-memory-utilization / --mem-fraction-static). */
  memoryFraction: Sourced & { value: number };
  /** Activation / CUDA-graph peak the engine carves out of that fraction before sizing the KV pool. */
  activationReserve: Sourced & { bytes: number };
  /** Whether the routed experts are spread over every GPU of the replica even without expert parallelism. */
  moeSpansDataParallel: boolean;
}

export type SupportStatus = "verified" | "validated" | "unsupported";

/** What a published recipe says about one engine × GPU × checkpoint. The first matching rule wins. */
export interface SupportRule {
  engine: Engine;
  gpus: readonly string[];
  models: readonly string[];
  status: SupportStatus;
  /** Parallel modes a source runs, in order of preference. */
  modes: readonly ParallelMode[];
  /** Modes a source says do not work, with the reason. */
  refusedModes?: Partial<Record<ParallelMode, string>>;
  /** Smallest GPU count per replica a source runs; the default never proposes fewer. */
  minGpusPerReplica?: number;
  /** Indexer dtype when the KV cache is fp8 (vLLM on Blackwell stores it as fp4). */
  fp8IndexerDtype?: IndexerDtype;
  args?: readonly string[];
  modeArgs?: Partial<Record<ParallelMode, readonly string[]>>;
  env?: Readonly<Record<string, string>>;
  modeEnv?: Partial<Record<ParallelMode, Readonly<Record<string, string>>>>;
  image?: string;
  source: string;
  note?: string;
  /** For unsupported combinations: what to use instead. */
  instead?: string;
}
