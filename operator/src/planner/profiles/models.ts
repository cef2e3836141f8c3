// DeepSeek-V4-Flash checkpoints as data. Numbers and sources: /work/shared/reference/model-facts.md
// (§0 key numbers, §1.3 weight files, §2 KV cache, §2.4 calibration); "[estimate]" marks values
// no source states.
import type { KvCalibration, KvLayout, ModelArchitecture, ModelProfile } from "./types.ts";

const MiB = 2 ** 20;

/** Shared by every Flash checkpoint: config.json of deepseek-ai/DeepSeek-V4-Flash (model-facts §1.2). */
const FLASH_ARCHITECTURE: ModelArchitecture = {
  // compress_ratios over the 43 decoder layers: 2 × 0, 21 × 4 (CSA, with indexer), 20 × 128 (HCA).
  // The 44th entry is the MTP layer, which only holds KV when MTP speculative decoding is on.
  layers: [
    { compressRatio: 0, count: 2, indexer: false },
    { compressRatio: 4, count: 21, indexer: true },
    { compressRatio: 128, count: 20, indexer: false },
  ],
  windowTokens: 128,
  attentionHeads: 64,
  routedExperts: 256,
  maxPositionEmbeddings: 1_048_576,
  maxOutputTokens: 393_216,
  flashMaxMinContext: 393_216,
};

const FLASH_KV: KvLayout = {
  // fp8: 448 B e4m3 + 128 B bf16 RoPE + 8 B scales per entry (vLLM cache_utils.py docstring; SGLang PR #38646).
  // bf16: 512 values × 2 B. Indexer: 128 dims; fp8 = 128 B + 4 B scale (as V3.2); fp4 ≈ 64 B + ~4 B scales.
  entryBytes: { fp8: 584, bf16: 1024 },
  indexerEntryBytes: { bf16: 256, fp8: 132, fp4: 68 },
  estimatedIndexerDtypes: ["fp4"],
  source: "model-facts §2.1-2.3 (vLLM blog formula; vllm cache_utils.py; sglang PR #38646)",
};

const FLASH_CALIBRATION: Readonly<Record<"vllm" | "sglang", KvCalibration>> = {
  // vLLM reserves far more than theory at short max_model_len: a fit on V4-Flash-0731 gives
  // 3,300 B/token + 3.2 GB per request (tonyd2wild/...-DGX-Spark issue #57); with that term the
  // model reproduces 8×B200 at 1M (vllm issue #51454: DP8 156.9×, TP8 20.43×) within a few percent.
  vllm: {
    scale: 1,
    fixedBytesPerSequence: 3.2e9,
    measuredContextRange: [50_000, 1_048_576],
    source:
      "model-facts §2.4: fit 3,300 + 3.2e9/max_model_len B/token (issue #57); 8×B200 1M concurrency (vllm #51454)",
  },
  sglang: {
    scale: 1,
    fixedBytesPerSequence: 0,
    estimate: true,
    source: "theory only: no published SGLang KV measurement for V4-Flash",
  },
};

/**
 * Per routed expert: w1, w3 [2048, 2048] int8 (packed FP4) + w2 [4096, 1024] + UE8M0 scales = 12.75 MiB (model-facts
 * §1.3).
 */
const MXFP4_EXPERT_BYTES = 12.75 * MiB;
/** FP8 e4m3 expert: 3 × 2048 × 4096 B + one fp32 scale per 128×128 block (3 × 512 × 4 B). [estimate] */
const FP8_EXPERT_BYTES = 3 * 2048 * 4096 + 3 * 512 * 4;
/** NVFP4 expert: 3 × 2048 × 4096 values × 0.5 B + one fp8 scale per 16 values. [estimate] */
const NVFP4_EXPERT_BYTES = (3 * 2048 * 4096) / 2 + (3 * 2048 * 4096) / 16;
/** 43 decoder layers + the MTP layer, 256 routed experts each. */
const EXPERT_SLOTS = 44 * 256;

const ORIGINAL_TOTAL_BYTES = 159_617_149_040;
const ORIGINAL_EXPERT_BYTES = MXFP4_EXPERT_BYTES * EXPERT_SLOTS;
/** Attention, shared expert, embeddings, norms: already FP8/BF16 in the original, assumed unchanged in the repacks. */
const NON_EXPERT_BYTES = ORIGINAL_TOTAL_BYTES - ORIGINAL_EXPERT_BYTES;

export const MODEL_PROFILES: readonly ModelProfile[] = [
  {
    id: "deepseek-ai/DeepSeek-V4-Flash",
    description: "instruct; FP4 (MXFP4) routed experts, FP8 attention and dense layers",
    chat: true,
    format: "mxfp4-experts",
    revision: {
      sha: "60d8d70770c6776ff598c94bb586a859a38244f1",
      source: "model-facts §0 #15 ([pinned-loader] shard list)",
    },
    weights: {
      totalBytes: ORIGINAL_TOTAL_BYTES,
      fileCount: 46,
      routedExpertBytes: ORIGINAL_EXPERT_BYTES,
      source: "sum of the 46 pinned shards (model-facts §1.3); vLLM logs 'Checkpoint size: 148.66 GiB'",
    },
    architecture: FLASH_ARCHITECTURE,
    kv: FLASH_KV,
    calibration: FLASH_CALIBRATION,
  },
  {
    id: "deepseek-ai/DeepSeek-V4-Flash-Base",
    description: "base model for further training (pure FP8); not chat-tuned",
    chat: false,
    format: "fp8",
    weights: {
      totalBytes: FP8_EXPERT_BYTES * EXPERT_SLOTS + NON_EXPERT_BYTES,
      routedExpertBytes: FP8_EXPERT_BYTES * EXPERT_SLOTS,
      estimate: true,
      source: "[estimate] FP8 expert shapes × 256 × 44 + the original's non-expert bytes; no published size",
    },
    architecture: FLASH_ARCHITECTURE,
    kv: FLASH_KV,
    calibration: FLASH_CALIBRATION,
  },
  {
    id: "sgl-project/DeepSeek-V4-Flash-FP8",
    description: "FP8 repack of the instruct model for Hopper and AMD (unlocks DP-attention + DeepEP in SGLang)",
    chat: true,
    format: "fp8",
    weights: {
      totalBytes: FP8_EXPERT_BYTES * EXPERT_SLOTS + NON_EXPERT_BYTES,
      routedExpertBytes: FP8_EXPERT_BYTES * EXPERT_SLOTS,
      estimate: true,
      // The AMD recipe table's "FP8 (~170GB)" cannot hold 284B parameters at one byte each; we keep the larger figure.
      source: "[estimate] FP8 expert shapes × 256 × 44 + the original's non-expert bytes (≈ 292.6 GB)",
    },
    architecture: FLASH_ARCHITECTURE,
    kv: FLASH_KV,
    calibration: FLASH_CALIBRATION,
  },
  {
    id: "nvidia/DeepSeek-V4-Flash-NVFP4",
    description: "NVIDIA NVFP4 quantisation of the instruct model (Blackwell)",
    chat: true,
    format: "nvfp4",
    weights: {
      totalBytes: NVFP4_EXPERT_BYTES * EXPERT_SLOTS + NON_EXPERT_BYTES,
      routedExpertBytes: NVFP4_EXPERT_BYTES * EXPERT_SLOTS,
      estimate: true,
      source: "[estimate] NVFP4 expert shapes (fp8 scale per 16 values) × 256 × 44 + the original's non-expert bytes",
    },
    architecture: FLASH_ARCHITECTURE,
    kv: FLASH_KV,
    calibration: FLASH_CALIBRATION,
  },
];

export const DEFAULT_MODEL_ID = "deepseek-ai/DeepSeek-V4-Flash";
