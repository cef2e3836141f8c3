// Recipe-based expectations: every case below is a deployment a published source runs (or refuses).
import { describe, expect, it } from "@jest/globals";
import { plan, PlanInputError, type PlanInput } from "./index.ts";

const GiB = 2 ** 30;
const oneM: PlanInput = {
  model: "deepseek-ai/DeepSeek-V4-Flash",
  gpu: "H200",
  engine: "vllm",
  maxModelLen: 1_048_576,
  concurrency: 16,
  kvCacheDtype: "auto",
};
const argValue = (args: string[], flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};

describe("overrides that no node shape can hold", () => {
  it("refuses tensor 64 on 6-GPU nodes with an error naming the field (a property test found a TypeError here)", () => {
    const input = {
      model: "deepseek-ai/DeepSeek-V4-Flash",
      gpu: "H100",
      engine: "vllm",
      maxModelLen: 8192,
      concurrency: 1,
      kvCacheDtype: "auto",
      toolCalling: false,
      gpusPerNode: 6,
      overrides: { tensor: 64 },
    } as const;
    expect(() => plan(input as never)).toThrow(PlanInputError);
    expect(() => plan(input as never)).toThrow(/^overrides\.tensor: no replica size fits 6-GPU nodes/);
  });
});

describe("published recipes at 1M context", () => {
  it("fits a 4 × H200 replica with data-parallel attention + expert parallelism (Dynamo agg-h200, vLLM recipe)", () => {
    const p = plan(oneM);
    expect(p).toMatchObject({
      feasible: true,
      gpuType: "H200",
      gpusPerReplica: 4,
      nodesPerReplica: 1,
      tensorParallel: 1,
      dataParallel: 4,
      expertParallel: true,
    });
    expect(p.maxConcurrentSequences).toBeGreaterThanOrEqual(16);
    expect(argValue(p.engineArgs, "--data-parallel-size")).toBe("4");
    expect(p.engineArgs).toContain("--enable-expert-parallel");
    expect(p.kvSharding).toMatch(/By sequence across 4 data-parallel/);
    expect(p.reason).toMatch(/4 × H200/);
    expect(p.reason).toMatch(/GiB/);
  });

  it("needs 8 × H100 (NeMo RL TP8 for vLLM; SGLang cookbook TP8)", () => {
    for (const engine of ["vllm", "sglang"] as const) {
      const p = plan({ ...oneM, gpu: "H100", engine, concurrency: 4 });
      expect(p).toMatchObject({ feasible: true, gpusPerReplica: 8, tensorParallel: 8, dataParallel: 1 });
    }
  });

  it("explains that TP-only H100 cannot reach a high 1M concurrency, and what would", () => {
    const p = plan({ ...oneM, gpu: "H100", concurrency: 100 });
    expect(p.feasible).toBe(false);
    expect(p.reason).toMatch(/^No replica of 8 to 64 H100 GPUs serves 100 sequences/);
    expect(p.reason).toMatch(/hold 7 sequences .* each needs 6\.74 GiB per GPU and 49\.10 GiB per GPU is left/);
    expect(p.reason).toMatch(/data-parallel override/);
  });

  it("cannot hold the FP8 repack in 4 × H100 at all, and says by how much", () => {
    const p = plan({
      ...oneM,
      gpu: "H100",
      model: "sgl-project/DeepSeek-V4-Flash-FP8",
      concurrency: 1,
      overrides: { gpusPerReplica: 4 },
    });
    expect(p.feasible).toBe(false);
    expect(p.weightsBytesPerGpu + p.engineReserveBytesPerGpu).toBeGreaterThan(p.gpuMemoryBytes);
    expect(p.reason).toMatch(/the weights need \d+\.\d\d GiB per GPU .* more than the 79\.65 GiB of one H100/);
  });

  it("fits DeepSeek-V4-Flash on 4 × B200 (vLLM blog DP4 + EP) and uses the FP4 indexer flag", () => {
    const p = plan({ ...oneM, gpu: "B200" });
    expect(p).toMatchObject({
      feasible: true,
      gpusPerReplica: 4,
      dataParallel: 4,
      expertParallel: true,
      kvIndexerDtype: "fp4",
    });
    expect(p.engineArgs).toContain("--attention_config.use_fp4_indexer_cache=True");
    expect(p.kvCacheBytesPerToken).toBe(3514);
  });

  it("refuses vLLM on MI300X with the recipe's reason and points at SGLang + the FP8 repack", () => {
    const p = plan({ ...oneM, gpu: "MI300X", concurrency: 1 });
    expect(p.feasible).toBe(false);
    expect(p.support.status).toBe("unsupported");
    expect(p.reason).toMatch(/^Infeasible: vllm does not serve deepseek-ai\/DeepSeek-V4-Flash on MI300X/);
    expect(p.reason).toMatch(/sglang with sgl-project\/DeepSeek-V4-Flash-FP8/);
    const ok = plan({ ...oneM, gpu: "MI300X", engine: "sglang", model: "sgl-project/DeepSeek-V4-Flash-FP8" });
    expect(ok).toMatchObject({ feasible: true, gpusPerReplica: 8, gpuResourceName: "amd.com/gpu" });
  });

  it("on 8 × B200 holds several times more sequences with DP8 than with TP8 (vllm #51454: 156.9 vs 20.43)", () => {
    const dp = plan({
      ...oneM,
      gpu: "B200",
      concurrency: 1,
      overrides: { gpusPerReplica: 8, tensor: 1, data: 8, expert: true },
    });
    const tp = plan({
      ...oneM,
      gpu: "B200",
      concurrency: 1,
      overrides: { gpusPerReplica: 8, tensor: 8, data: 1, expert: true },
    });
    expect(dp.feasible && tp.feasible).toBe(true);
    const ratio = dp.maxConcurrentSequences / tp.maxConcurrentSequences;
    expect(ratio).toBeGreaterThan(6);
    expect(ratio).toBeLessThan(9);
    // Calibration: within 10% of what vLLM reported on that machine.
    expect(Math.abs(dp.maxConcurrentSequences / 156.9 - 1)).toBeLessThan(0.1);
    expect(Math.abs(tp.maxConcurrentSequences / 20.43 - 1)).toBeLessThan(0.1);
    expect(tp.kvSharding).toMatch(/Replicated on each of the 8 tensor-parallel ranks/);
  });
});

describe("engine-specific parallel modes", () => {
  it("keeps SGLang on Hopper with the FP4 checkpoint TP-only and refuses DP-attention there", () => {
    const p = plan({ ...oneM, engine: "sglang" });
    expect(p).toMatchObject({ feasible: true, dataParallel: 1, parallelMode: "tp" });
    expect(p.engineArgs).not.toContain("--enable-dp-attention");
    const dp = plan({ ...oneM, engine: "sglang", overrides: { gpusPerReplica: 4, data: 4 } });
    expect(dp.feasible).toBe(false);
    expect(dp.reason).toMatch(/TP-only/);
  });

  it("uses DP-attention + DeepEP for SGLang on H200 with the FP8 repack", () => {
    const p = plan({ ...oneM, engine: "sglang", model: "sgl-project/DeepSeek-V4-Flash-FP8" });
    expect(p).toMatchObject({ feasible: true, dataParallel: 4, tensorParallel: 1 });
    expect(p.engineArgs.join(" ")).toMatch(/--tp 4 --dp 4 --enable-dp-attention/);
    expect(p.engineArgs.join(" ")).toContain("--moe-a2a-backend deepep");
    expect(p.engineEnv.SGLANG_DSV4_FP4_EXPERTS).toBe("0");
  });

  it("marks a layout below the smallest published replica as experimental", () => {
    const p = plan({ ...oneM, concurrency: 1, overrides: { gpusPerReplica: 2 } });
    expect(p.feasible).toBe(true);
    expect(p.experimental).toContain("replica-size");
  });

  it("marks decode context parallelism experimental, and it undoes TP's KV replication", () => {
    const base = { ...oneM, gpu: "B200", concurrency: 1, overrides: { gpusPerReplica: 8, tensor: 8, data: 1 } };
    const without = plan(base);
    const withDcp = plan({ ...base, overrides: { ...base.overrides, decodeContext: 8 } });
    expect(withDcp.experimental).toContain("decode-context-parallel");
    expect(argValue(withDcp.engineArgs, "--decode-context-parallel-size")).toBe("8");
    expect(withDcp.maxConcurrentSequences).toBeGreaterThan(5 * without.maxConcurrentSequences);
  });
});

describe("engine arguments", () => {
  it("carries every flag the vLLM recipe requires, the parsers when asked, and a per-rank --max-num-seqs", () => {
    const p = plan({ ...oneM, toolCalling: true, reasoning: "standard" });
    const a = p.engineArgs.join(" ");
    for (const f of [
      "--trust-remote-code",
      "--kv-cache-dtype fp8",
      "--block-size 256",
      "--tokenizer-mode deepseek_v4",
      "--max-model-len 1048576",
      "--tool-call-parser deepseek_v4",
      "--enable-auto-tool-choice",
      "--reasoning-parser deepseek_v4",
      "--gpu-memory-utilization 0.9",
      "--tensor-parallel-size 1",
    ]) {
      expect(a).toContain(f);
    }
    expect(Number(argValue(p.engineArgs, "--max-num-seqs"))).toBe(p.sequencesPerDataParallelRank);
    const plain = plan(oneM).engineArgs.join(" ");
    expect(plain).not.toContain("--tool-call-parser");
    expect(plain).not.toContain("--reasoning-parser");
  });

  it("turns SGLang metrics on and uses SGLang's parser names", () => {
    const p = plan({ ...oneM, gpu: "B200", engine: "sglang", toolCalling: true, reasoning: "flash-max" });
    const a = p.engineArgs.join(" ");
    for (const f of [
      "--enable-metrics",
      "--context-length 1048576",
      "--kv-cache-dtype fp8_e4m3",
      "--tool-call-parser deepseekv4",
      "--reasoning-parser deepseek-v4",
      "--trust-remote-code",
    ]) {
      expect(a).toContain(f);
    }
    expect(Number(argValue(p.engineArgs, "--max-running-requests"))).toBe(p.maxConcurrentSequences);
  });

  it("selects nodes by the GPU-feature-discovery product label", () => {
    expect(plan(oneM).nodeSelector).toEqual({ "nvidia.com/gpu.product": "NVIDIA-H200" });
    expect(plan({ ...oneM, gpu: "h100", concurrency: 1 }).nodeSelector).toEqual({
      "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
    });
  });
});

describe("reasoning, offload, multi-node, KV dtype", () => {
  it("refuses Flash-Max below 393,216 tokens and accepts it at that length", () => {
    const short = plan({ ...oneM, maxModelLen: 131_072, reasoning: "flash-max" });
    expect(short.feasible).toBe(false);
    expect(short.reason).toMatch(/Flash-Max reasoning needs maxModelLen ≥ 393,216 tokens, got 131,072/);
    expect(plan({ ...oneM, maxModelLen: 393_216, reasoning: "flash-max" }).feasible).toBe(true);
  });

  it("lets an offload tier hold a concurrency the GPUs alone cannot", () => {
    const fixed = { ...oneM, concurrency: 100, overrides: { gpusPerReplica: 4 } };
    expect(plan(fixed).feasible).toBe(false);
    const spilled = plan({ ...fixed, offload: { tier: "cpu", bytesPerReplica: 1024 * GiB } });
    expect(spilled.feasible).toBe(true);
    expect(spilled.offloadedSequences).toBeGreaterThan(0);
    expect(spilled.gpuResidentSequences + spilled.offloadedSequences).toBe(spilled.maxConcurrentSequences);
    expect(spilled.kvSharding).toMatch(/spill to the cpu offload tier/);
    expect(spilled.experimental).toContain("kv-offload");
    expect(argValue(spilled.engineArgs, "--kv-offloading-size")).toBe("256");
    // Without overrides, the tier lets a smaller replica do.
    const auto = plan({ ...oneM, concurrency: 100 });
    const autoSpilled = plan({ ...oneM, concurrency: 100, offload: { tier: "disk", bytesPerReplica: 1024 * GiB } });
    expect(autoSpilled.gpusPerReplica).toBeLessThan(auto.gpusPerReplica);
    expect(autoSpilled.kvOffload).toEqual({
      tier: "disk",
      bytesPerReplica: 1024 * GiB,
      mountPath: "/var/cache/kv-offload",
    });
  });

  it("spans nodes when a replica needs more GPUs than one node has", () => {
    const p = plan({ ...oneM, concurrency: 150 });
    expect(p.feasible).toBe(true);
    expect(p.gpusPerReplica).toBeGreaterThan(8);
    expect(p.nodesPerReplica).toBe(p.gpusPerReplica / 8);
    expect(p.warnings.join(" ")).toMatch(/spans \d nodes/);
    const small = plan({ ...oneM, gpusPerNode: 4, concurrency: 60 });
    expect(small).toMatchObject({ feasible: true, gpusPerReplica: 8, nodesPerReplica: 2 });
  });

  it("sizes a bf16 KV cache at 6,880 B/token and marks it experimental", () => {
    const p = plan({ ...oneM, kvCacheDtype: "bf16", concurrency: 1 });
    expect(p.kvCacheBytesPerToken).toBe(6880);
    expect(p.kvCacheDtype).toBe("bf16");
    expect(p.experimental).toContain("kv-cache-dtype");
    expect(argValue(p.engineArgs, "--kv-cache-dtype")).toBe("bfloat16");
  });
});

describe("input errors", () => {
  const problems = (input: PlanInput) => {
    try {
      plan(input);
    } catch (err) {
      if (err instanceof PlanInputError) return err.problems;
      throw err;
    }
    return [];
  };

  it("requires tensor × data to equal gpusPerReplica and powers of two", () => {
    expect(problems({ ...oneM, overrides: { gpusPerReplica: 8, tensor: 2, data: 2 } })).toEqual([
      { field: "overrides.tensor", message: "tensor (2) × data (2) = 4 must equal gpusPerReplica (8)" },
    ]);
    expect(problems({ ...oneM, overrides: { tensor: 3 } })[0]?.field).toBe("overrides.tensor");
    expect(problems({ ...oneM, overrides: { gpusPerReplica: 6 } })[0]?.message).toMatch(/power of two/);
    expect(problems({ ...oneM, overrides: { gpusPerReplica: 8, tensor: 4, data: 2 } })).toEqual([]);
  });

  it("honours valid overrides exactly", () => {
    const p = plan({ ...oneM, concurrency: 1, overrides: { gpusPerReplica: 8, tensor: 2, data: 4, expert: true } });
    expect(p).toMatchObject({ gpusPerReplica: 8, tensorParallel: 2, dataParallel: 4, expertParallel: true });
  });

  it("names unknown models and GPUs with the known ones, and out-of-range numbers", () => {
    const p = problems({ ...oneM, model: "x/y", gpu: "A100", maxModelLen: 2_000_000, concurrency: 0 });
    expect(p.map((x) => x.field)).toEqual(["model", "gpu", "maxModelLen", "concurrency"]);
    expect(p[0]?.message).toMatch(/known: deepseek-ai\/DeepSeek-V4-Flash/);
    expect(p[1]?.message).toMatch(/known: H100, H200, B200, B300, GB200, MI300X, MI355X/);
  });

  it("needs a tensor size that decode context parallelism divides", () => {
    expect(problems({ ...oneM, overrides: { decodeContext: 2 } })[0]?.field).toBe("overrides.decodeContext");
    expect(problems({ ...oneM, overrides: { tensor: 2, decodeContext: 4 } })[0]?.message).toMatch(/must divide tensor/);
  });
});

it("is deterministic", () => {
  expect(plan({ ...oneM, toolCalling: true })).toEqual(plan({ ...oneM, toolCalling: true }));
});
