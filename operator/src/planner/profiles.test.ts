import { describe, expect, it } from "@jest/globals";
import { GPU_PROFILES } from "./profiles/gpus.ts";
import { MODEL_PROFILES } from "./profiles/models.ts";
import { SUPPORT_RULES } from "./profiles/support.ts";
import { ENGINE_PROFILES } from "./profiles/engines.ts";
import { UnknownProfileError, resolveGpu, resolveModel, supportFor } from "./catalog.ts";

const GiB = 2 ** 30;

describe("model profiles", () => {
  const flash = resolveModel("deepseek-ai/DeepSeek-V4-Flash");

  it("carry the original checkpoint's published numbers", () => {
    expect(flash.weights.totalBytes).toBe(159_617_149_040);
    expect(flash.weights.fileCount).toBe(46);
    expect(flash.revision?.sha).toBe("60d8d70770c6776ff598c94bb586a859a38244f1");
    expect(flash.architecture.maxPositionEmbeddings).toBe(1_048_576);
    expect(flash.architecture.maxOutputTokens).toBe(393_216);
    expect(flash.architecture.flashMaxMinContext).toBe(393_216);
  });

  it("split the original into ≈140.3 GiB routed experts and ≈8.4 GiB of the rest", () => {
    expect(flash.weights.routedExpertBytes / GiB).toBeCloseTo(140.25, 2);
    expect((flash.weights.totalBytes - flash.weights.routedExpertBytes) / GiB).toBeCloseTo(8.4, 1);
  });

  it("count 43 decoder layers: 2 × ratio 0, 21 × ratio 4 (with indexer), 20 × ratio 128", () => {
    for (const m of MODEL_PROFILES) {
      const byRatio = Object.fromEntries(m.architecture.layers.map((g) => [g.compressRatio, g.count]));
      expect(byRatio).toEqual({ 0: 2, 4: 21, 128: 20 });
      expect(m.architecture.layers.filter((g) => g.indexer).map((g) => g.compressRatio)).toEqual([4]);
      expect(m.architecture.windowTokens).toBe(128);
    }
  });

  it("mark every size no source states as an estimate, and keep experts below the total", () => {
    for (const m of MODEL_PROFILES) {
      expect(m.weights.routedExpertBytes).toBeLessThan(m.weights.totalBytes);
      if (m.id !== "deepseek-ai/DeepSeek-V4-Flash") expect(m.weights.estimate).toBe(true);
    }
  });

  it("resolve case-insensitively and reject unknown names with the known list", () => {
    expect(resolveModel("DEEPSEEK-AI/deepseek-v4-flash").id).toBe("deepseek-ai/DeepSeek-V4-Flash");
    expect(() => resolveModel("deepseek-ai/DeepSeek-V3")).toThrow(UnknownProfileError);
    expect(() => resolveModel("deepseek-ai/DeepSeek-V3")).toThrow(
      /known: deepseek-ai\/DeepSeek-V4-Flash, .*nvidia\/DeepSeek-V4-Flash-NVFP4/,
    );
  });
});

describe("GPU profiles", () => {
  it("cover the seven GPUs with vendor resource names and node-label values", () => {
    expect(GPU_PROFILES.map((g) => g.id)).toEqual(["H100", "H200", "B200", "B300", "GB200", "MI300X", "MI355X"]);
    for (const g of GPU_PROFILES) {
      expect(g.resourceName).toBe(g.vendor === "nvidia" ? "nvidia.com/gpu" : "amd.com/gpu");
      expect(g.nodeLabel.values.length).toBeGreaterThan(0);
    }
    expect(resolveGpu("h100").nodeLabel).toEqual({ key: "nvidia.com/gpu.product", values: ["NVIDIA-H100-80GB-HBM3"] });
    expect(resolveGpu("H200").nodeLabel.values).toContain("NVIDIA-H200");
    expect(resolveGpu("b200").nodeLabel.values).toContain("NVIDIA-B200");
  });

  it("hold the driver-reported memory (B200 ≈ 179 GiB, H200 ≈ 140 GiB, MI300X 192 GB)", () => {
    expect(resolveGpu("B200").memory.bytes / GiB).toBeCloseTo(179.06, 1);
    expect(resolveGpu("H200").memory.bytes / GiB).toBeCloseTo(140.4, 1);
    expect(resolveGpu("MI300X").memory.bytes).toBe(205_822_885_888);
  });

  it("resolve aliases and label values, and list the known GPUs on a miss", () => {
    expect(resolveGpu("NVIDIA-H100-80GB-HBM3").id).toBe("H100");
    expect(resolveGpu("mi355x").id).toBe("MI355X");
    expect(() => resolveGpu("A100")).toThrow(
      /unknown gpu "A100"; known: H100, H200, B200, B300, GB200, MI300X, MI355X/,
    );
  });
});

describe("support rules", () => {
  it("name only known engines, GPUs and models, and every non-refusal names its modes", () => {
    const gpus = new Set(GPU_PROFILES.map((g) => g.id));
    const models = new Set(MODEL_PROFILES.map((m) => m.id));
    for (const r of SUPPORT_RULES) {
      expect(Object.keys(ENGINE_PROFILES)).toContain(r.engine);
      for (const g of r.gpus) expect(gpus.has(g)).toBe(true);
      for (const m of r.models) expect(models.has(m)).toBe(true);
      if (r.status !== "unsupported") expect(r.modes.length).toBeGreaterThan(0);
      expect(r.source.length).toBeGreaterThan(10);
    }
  });

  it("encode the recipe facts the planner relies on", () => {
    const flash = resolveModel("deepseek-ai/DeepSeek-V4-Flash");
    const fp8 = resolveModel("sgl-project/DeepSeek-V4-Flash-FP8");
    expect(supportFor("vllm", resolveGpu("MI300X"), flash).status).toBe("unsupported");
    expect(supportFor("vllm", resolveGpu("H200"), flash).modes[0]).toBe("dp-attention");
    expect(supportFor("vllm", resolveGpu("H100"), flash)).toMatchObject({
      status: "validated",
      modes: ["tp"],
      minGpusPerReplica: 8,
    });
    expect(supportFor("sglang", resolveGpu("H200"), flash).modes).toEqual(["tp"]);
    expect(supportFor("sglang", resolveGpu("H200"), flash).refusedModes?.["dp-attention"]).toMatch(/TP-only/);
    expect(supportFor("sglang", resolveGpu("H200"), fp8).modes).toContain("dp-attention");
    expect(supportFor("vllm", resolveGpu("B300"), fp8).status).toBe("experimental");
  });
});
