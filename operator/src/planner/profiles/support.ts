// What published recipes run, per engine × GPU × checkpoint (model-facts §3; the SGLang cookbook
// deepseek-v4.jsx cells, all `verified: true`). The first matching rule wins; a combination no rule
// matches is planned as "experimental" with tensor parallelism only.
import type { SupportRule } from "./types.ts";

const ORIGINAL = "deepseek-ai/DeepSeek-V4-Flash";
const BASE = "deepseek-ai/DeepSeek-V4-Flash-Base";
const FP8_REPACK = "sgl-project/DeepSeek-V4-Flash-FP8";
const NVFP4 = "nvidia/DeepSeek-V4-Flash-NVFP4";
const ALL = [ORIGINAL, BASE, FP8_REPACK, NVFP4];

const FULL_AND_PIECEWISE = ["--compilation-config", '{"cudagraph_mode":"FULL_AND_PIECEWISE","custom_ops":["all"]}'];
const HOPPER_FP4_TP_ONLY =
  "the SGLang cookbook runs the original FP4 checkpoint on Hopper with W4A16 Marlin kernels, TP-only; the FP8 " +
  "repack (sgl-project/DeepSeek-V4-Flash-FP8) unlocks DP-attention + DeepEP";
const ROCM_SGLANG_ENV = {
  SGLANG_USE_ROCM700A: "0",
  SGLANG_HACK_FLASHMLA_BACKEND: "unified_kv_triton",
  AITER_BF16_FP8_MOE_BOUND: "0",
};

export const SUPPORT_RULES: readonly SupportRule[] = [
  // ---------------------------------------------------------------- vLLM
  {
    engine: "vllm",
    gpus: ["MI300X"],
    models: ALL,
    status: "unsupported",
    modes: [],
    source: "vllm-project/recipes DeepSeek-V4-Flash.yaml marks mi300x and mi325x unsupported",
    instead: "engine sglang with sgl-project/DeepSeek-V4-Flash-FP8 (SGLang cookbook: MI300X TP8 or DP8)",
  },
  {
    engine: "vllm",
    gpus: ["B200", "B300", "GB200"],
    models: [ORIGINAL],
    status: "verified",
    modes: ["dp-attention", "tp"],
    minGpusPerReplica: 4,
    fp8IndexerDtype: "fp4",
    args: ["--attention_config.use_fp4_indexer_cache=True", "--moe-backend", "deep_gemm_mega_moe"],
    modeArgs: { "dp-attention": FULL_AND_PIECEWISE },
    source:
      "vllm-project/recipes DeepSeek-V4-Flash.yaml (Blackwell args; single_node_dep) and the vLLM blog quickstart (4×B200/B300 DP4+EP)",
  },
  {
    engine: "vllm",
    gpus: ["H200"],
    models: [ORIGINAL],
    status: "verified",
    modes: ["dp-attention", "tp"],
    minGpusPerReplica: 4,
    modeArgs: { "dp-attention": FULL_AND_PIECEWISE },
    source:
      "vllm-project/recipes DeepSeek-V4-Flash.yaml (h200 verified; DP4+EP recommended); ai-dynamo/dynamo agg-h200-agentic (DP4 TP1 EP, 1M context)",
  },
  {
    engine: "vllm",
    gpus: ["MI355X"],
    models: [ORIGINAL],
    status: "verified",
    modes: ["tp"],
    minGpusPerReplica: 4,
    env: { VLLM_ROCM_USE_AITER: "1" },
    source: "vllm-project/recipes DeepSeek-V4-AMD.md (MI355X TP4)",
  },
  {
    engine: "vllm",
    gpus: ["H100"],
    models: [ORIGINAL, FP8_REPACK],
    status: "validated",
    modes: ["tp"],
    minGpusPerReplica: 8,
    source: "NeMo RL validated vLLM generation with TP8 + EP1 on H100 (docs.nvidia.com/nemo/rl ... deepseek-v4-flash)",
    note: "H100 is not in the vLLM recipe's hardware list; NeMo RL validated it with TP8 + EP1",
  },
  {
    engine: "vllm",
    gpus: ["B200"],
    models: [NVFP4],
    status: "verified",
    modes: ["tp"],
    minGpusPerReplica: 4,
    source: "ai-dynamo/dynamo deepseek-v4-flash recipe: aggregated 4×B200 TP4 on the NVFP4 checkpoint",
  },
  // ---------------------------------------------------------------- SGLang
  {
    engine: "sglang",
    gpus: ["B200", "B300", "GB200"],
    models: [ORIGINAL],
    status: "verified",
    modes: ["dp-attention", "tp"],
    minGpusPerReplica: 4,
    modeArgs: {
      tp: ["--moe-runner-backend", "flashinfer_mxfp4"],
      "dp-attention": ["--moe-a2a-backend", "deepep"],
    },
    modeEnv: { "dp-attention": { SGLANG_DEEPEP_NUM_MAX_DISPATCH_TOKENS_PER_RANK: "1024" } },
    source: "SGLang cookbook deepseek-v4.jsx: b200/b300/gb200 flash fp4 cells (TP4; TP4 DP4 DP-attention + DeepEP)",
  },
  {
    engine: "sglang",
    gpus: ["H200"],
    models: [ORIGINAL],
    status: "verified",
    modes: ["tp"],
    refusedModes: { "dp-attention": HOPPER_FP4_TP_ONLY },
    minGpusPerReplica: 4,
    modeArgs: { tp: ["--moe-runner-backend", "marlin"] },
    source: "SGLang cookbook deepseek-v4.jsx: h200 flash fp4 cells (TP4, Marlin)",
  },
  {
    engine: "sglang",
    gpus: ["H100"],
    models: [ORIGINAL],
    status: "verified",
    modes: ["tp"],
    refusedModes: { "dp-attention": HOPPER_FP4_TP_ONLY },
    minGpusPerReplica: 8,
    modeArgs: { tp: ["--moe-runner-backend", "marlin"] },
    source: "SGLang cookbook deepseek-v4.jsx: h100 flash fp4 cells (TP8, Marlin)",
  },
  {
    engine: "sglang",
    gpus: ["H200"],
    models: [FP8_REPACK],
    status: "verified",
    modes: ["dp-attention", "tp"],
    minGpusPerReplica: 4,
    env: { SGLANG_DSV4_FP4_EXPERTS: "0" },
    modeArgs: { "dp-attention": ["--moe-a2a-backend", "deepep"] },
    modeEnv: { "dp-attention": { SGLANG_DEEPEP_NUM_MAX_DISPATCH_TOKENS_PER_RANK: "256" } },
    source: "SGLang cookbook deepseek-v4.jsx: h200 flash fp8 cells (TP4; TP4 DP4 DP-attention + DeepEP)",
  },
  {
    engine: "sglang",
    gpus: ["MI300X"],
    models: [FP8_REPACK],
    status: "verified",
    modes: ["dp-attention", "tp"],
    minGpusPerReplica: 8,
    args: [
      "--attention-backend",
      "dsv4",
      "--page-size",
      "256",
      "--swa-full-tokens-ratio",
      "0.1",
      "--disable-shared-experts-fusion",
    ],
    env: ROCM_SGLANG_ENV,
    modeEnv: { "dp-attention": { SGLANG_DP_USE_GATHERV: "1" } },
    image: "lmsysorg/sglang-rocm:v0.5.13.post1-rocm720-mi30x-20260623",
    source: "SGLang cookbook deepseek-v4.jsx: mi300x flash fp8 cells (TP8; TP8 DP8 DP-attention)",
  },
  {
    engine: "sglang",
    gpus: ["MI300X"],
    models: [ORIGINAL, BASE, NVFP4],
    status: "unsupported",
    modes: [],
    source: "SGLang cookbook deepseek-v4.jsx runs MI300X (no FP4 units) only with the FP8 repack",
    instead: "model sgl-project/DeepSeek-V4-Flash-FP8",
  },
  {
    engine: "sglang",
    gpus: ["MI355X"],
    models: [ORIGINAL, FP8_REPACK],
    status: "verified",
    modes: ["dp-attention", "tp"],
    minGpusPerReplica: 8,
    args: [
      "--attention-backend",
      "dsv4",
      "--page-size",
      "256",
      "--swa-full-tokens-ratio",
      "0.15",
      "--disable-shared-experts-fusion",
    ],
    modeArgs: { "dp-attention": ["--enable-two-batch-overlap"] },
    env: ROCM_SGLANG_ENV,
    modeEnv: {
      "dp-attention": {
        SGLANG_SHARED_EXPERT_TP1: "1",
        SGLANG_DP_SHARED_EXPERT_LOCAL: "1",
        SGLANG_DP_USE_GATHERV: "1",
        SGLANG_DP_USE_REDUCE_SCATTER: "1",
      },
    },
    image: "lmsysorg/sglang-rocm:v0.5.14-rocm720-mi35x-20260708",
    source: "SGLang cookbook deepseek-v4.jsx: mi355x flash fp4/fp8 cells (TP8; TP8 DP8 DP-attention)",
  },
  {
    engine: "sglang",
    gpus: ["B200", "B300", "GB200"],
    models: [NVFP4],
    status: "verified",
    modes: ["tp"],
    minGpusPerReplica: 4,
    modeArgs: { tp: ["--moe-runner-backend", "flashinfer_trtllm_routed"] },
    source: "SGLang cookbook deepseek-v4.jsx: b200/b300/gb200 flash nvfp4 cells (TP4)",
  },
];
