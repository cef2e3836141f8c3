import { describe, expect, it } from "@jest/globals";
import { kvBytesPerToken, kvEngineBytesPerSequence, kvTheoryBytesPerSequence, kvWindowBytes } from "./kv.ts";
import { resolveModel } from "./catalog.ts";
import type { ModelProfile } from "./profiles/types.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const flash = resolveModel("deepseek-ai/DeepSeek-V4-Flash");

describe("KV bytes per token from entry sizes and the layer mix (model-facts §2.2-2.3)", () => {
  it("reproduces 6,880 B/token for bf16 and 3,850 B/token for fp8 with the fp8 indexer", () => {
    expect(kvBytesPerToken(flash, "bf16", "bf16")).toBe(6880);
    expect(Math.round(kvBytesPerToken(flash, "fp8", "fp8"))).toBe(3850);
  });

  it("gives ~3,514 B/token with the (estimated) fp4 indexer", () => {
    expect(Math.round(kvBytesPerToken(flash, "fp8", "fp4"))).toBe(3514);
  });

  it("gives 6.72 GiB (bf16) and 3.76 GiB (fp8) per 1M-token sequence, plus the fixed window", () => {
    expect(kvTheoryBytesPerSequence(flash, "bf16", "bf16", 1_048_576) / GiB).toBeCloseTo(6.72, 2);
    expect(kvTheoryBytesPerSequence(flash, "fp8", "fp8", 1_048_576) / GiB).toBeCloseTo(3.76, 2);
    expect(kvWindowBytes(flash, "bf16", 1_048_576) / MiB).toBeCloseTo(5.375, 3);
    expect(kvWindowBytes(flash, "fp8", 1_048_576) / MiB).toBeCloseTo(3.07, 2);
  });

  it("keeps the window per sequence even for short ones, and never more than 128 tokens of it", () => {
    expect(kvWindowBytes(flash, "fp8", 10)).toBe(43 * 10 * 584);
    expect(kvWindowBytes(flash, "fp8", 500)).toBe(kvWindowBytes(flash, "fp8", 128));
  });

  it("is a formula of the data, not of Flash: a V4-Pro layer mix gives vLLM's published 9.62 GiB at 1M (bf16)", () => {
    const pro: ModelProfile = {
      ...flash,
      architecture: {
        ...flash.architecture,
        layers: [
          { compressRatio: 4, count: 30, indexer: true },
          { compressRatio: 128, count: 31, indexer: false },
        ],
      },
    };
    expect(kvTheoryBytesPerSequence(pro, "bf16", "bf16", 1_048_576) / GiB).toBeCloseTo(9.62, 2);
  });

  it("adds vLLM's measured fixed reservation: ~1.8× theory at 1M, far more at short contexts", () => {
    const at1M =
      kvEngineBytesPerSequence(flash, "vllm", "fp8", "fp8", 1_048_576) /
      kvTheoryBytesPerSequence(flash, "fp8", "fp8", 1_048_576);
    expect(at1M).toBeGreaterThan(1.7);
    expect(at1M).toBeLessThan(1.9);
    const at50k =
      kvEngineBytesPerSequence(flash, "vllm", "fp8", "fp8", 50_000) /
      kvTheoryBytesPerSequence(flash, "fp8", "fp8", 50_000);
    expect(at50k).toBeGreaterThan(10);
    expect(kvEngineBytesPerSequence(flash, "sglang", "fp8", "fp8", 1_048_576)).toBe(
      kvTheoryBytesPerSequence(flash, "fp8", "fp8", 1_048_576),
    );
  });
});
