// Serving engines as data: images, version floor and how each sizes its memory pools.
import type { Engine, EngineProfile } from "./types.ts";

const GiB = 2 ** 30;

export const ENGINE_PROFILES: Readonly<Record<Engine, EngineProfile>> = {
  vllm: {
    id: "vllm",
    minVersion: "0.20.0",
    images: {
      // The Vultr B200 recipe runs this tag; the recipe's min_vllm_version is 0.20.0.
      nvidia: "vllm/vllm-openai:v0.20.0",
      // vllm-project/recipes DeepSeek-V4-AMD.md (MI355X); an unpinned tag, hence a warning in the plan.
      amd: "vllm/vllm-openai-rocm:nightly",
    },
    memoryFraction: {
      value: 0.9,
      source: "vLLM default --gpu-memory-utilization 0.9; the MI355X and Vultr recipes pass 0.90",
    },
    // Fitted so that 8×B200 at 1M reproduces vllm #51454 (DP8 156.9, TP8 20.43 concurrent requests);
    // CUDA-graph capture alone took 2.51 GiB in vllm #50576.
    activationReserve: { bytes: 4 * GiB, estimate: true, source: "[estimate] calibrated against vllm issue #51454" },
    moeSpansDataParallel: false,
  },
  sglang: {
    id: "sglang",
    images: {
      nvidia: "lmsysorg/sglang:latest",
      amd: "lmsysorg/sglang-rocm:v0.5.14-rocm720-mi35x-20260708",
    },
    // --mem-fraction-static covers weights + KV pool; activations and CUDA graphs live in the rest.
    memoryFraction: {
      value: 0.9,
      source: "SGLang cookbook cells (MI300X, MI355X, B200) pass --mem-fraction-static 0.90",
    },
    activationReserve: { bytes: 0, source: "outside --mem-fraction-static in SGLang" },
    // With --enable-dp-attention the MoE layers still span all --tp GPUs (tensor- or expert-sharded).
    moeSpansDataParallel: true,
  },
};
