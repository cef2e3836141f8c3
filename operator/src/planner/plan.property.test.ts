import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { GPU_PROFILES, MODEL_PROFILES, plan, PlanInputError, type PlanInput } from "./index.ts";

const GiB = 2 ** 30;

const baseInput = fc.record({
  model: fc.constantFrom(...MODEL_PROFILES.map((m) => m.id)),
  gpu: fc.constantFrom(...GPU_PROFILES.map((g) => g.id)),
  engine: fc.constantFrom("vllm" as const, "sglang" as const),
  maxModelLen: fc.oneof(fc.integer({ min: 1, max: 1_048_576 }), fc.constantFrom(8_192, 131_072, 393_216, 1_048_576)),
  concurrency: fc.integer({ min: 1, max: 512 }),
  kvCacheDtype: fc.constantFrom("auto" as const, "fp8" as const, "bf16" as const),
  reasoning: fc.option(fc.constantFrom("standard" as const, "flash-max" as const), { nil: undefined }),
  toolCalling: fc.boolean(),
});

const withOptional = fc.record({
  base: baseInput,
  gpusPerNode: fc.constantFrom(4, 8),
  offloadGiB: fc.option(fc.integer({ min: 1, max: 4096 }), { nil: undefined }),
  gpusPerReplica: fc.option(fc.constantFrom(1, 2, 4, 8, 16, 32, 64), { nil: undefined }),
});

describe("plan properties", () => {
  it("never exceeds GPU memory: weights + KV budget + reserve ≤ memory, and the sequences fit the budget", () => {
    fc.assert(
      fc.property(withOptional, ({ base, gpusPerNode, offloadGiB, gpusPerReplica }) => {
        const input: PlanInput = {
          ...base,
          gpusPerNode,
          ...(offloadGiB ? { offload: { tier: "cpu" as const, bytesPerReplica: offloadGiB * GiB } } : {}),
          ...(gpusPerReplica ? { overrides: { gpusPerReplica } } : {}),
        };
        const p = plan(input);
        if (!p.feasible) return;
        expect(p.weightsBytesPerGpu + p.kvBudgetBytesPerGpu + p.engineReserveBytesPerGpu).toBeLessThanOrEqual(
          p.gpuMemoryBytes,
        );
        expect((p.sequencesPerDataParallelRank * p.kvBytesPerSequence) / p.decodeContextParallel).toBeLessThanOrEqual(
          p.kvBudgetBytesPerGpu,
        );
        expect(p.sequencesPerDataParallelRank).toBeGreaterThanOrEqual(1);
        expect(p.maxConcurrentSequences).toBeGreaterThanOrEqual(input.concurrency);
        expect(p.tensorParallel * p.dataParallel).toBe(p.gpusPerReplica);
        expect(p.gpusPerReplica).toBeLessThanOrEqual(p.nodesPerReplica * p.gpusPerNode);
      }),
      { numRuns: 300 },
    );
  });

  // Offload is left out on purpose: under tensor parallelism every rank spills its own copy, so a
  // fixed offload budget holds fewer sequences as TP grows (see docs/planner.md).
  it("never holds fewer sequences with more GPUs per replica (other inputs fixed)", () => {
    fc.assert(
      fc.property(baseInput, fc.constantFrom(1, 2, 4, 8, 16, 32), (base, n) => {
        const small = plan({ ...base, overrides: { gpusPerReplica: n } });
        const large = plan({ ...base, overrides: { gpusPerReplica: 2 * n } });
        expect(large.maxConcurrentSequences).toBeGreaterThanOrEqual(small.maxConcurrentSequences);
        expect(large.gpuResidentSequences).toBeGreaterThanOrEqual(small.gpuResidentSequences);
      }),
      { numRuns: 300 },
    );
  });

  it("picks the smallest feasible power of two: half the GPUs is never feasible for a default plan", () => {
    fc.assert(
      fc.property(baseInput, (base) => {
        const p = plan(base);
        if (!p.feasible || p.gpusPerReplica === 1 || p.experimental.length > 0) return;
        const half = plan({ ...base, overrides: { gpusPerReplica: p.gpusPerReplica / 2 } });
        expect(half.feasible && half.experimental.length === 0).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("either plans or throws a PlanInputError for any combination of overrides, and honours the ones it accepts", () => {
    const size = fc.option(fc.oneof(fc.constantFrom(1, 2, 4, 8, 16, 32, 64), fc.integer({ min: 0, max: 130 })), {
      nil: undefined,
    });
    const overrides = fc.record({
      gpusPerReplica: size,
      tensor: size,
      data: size,
      decodeContext: size,
      nodesPerReplica: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
      expert: fc.option(fc.boolean(), { nil: undefined }),
    });
    fc.assert(
      fc.property(baseInput, fc.constantFrom(4, 6, 8), overrides, (base, gpusPerNode, o) => {
        const clean = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
        let p;
        try {
          p = plan({ ...base, gpusPerNode, overrides: clean });
        } catch (err) {
          expect(err).toBeInstanceOf(PlanInputError);
          return;
        }
        if (o.gpusPerReplica !== undefined) expect(p.gpusPerReplica).toBe(o.gpusPerReplica);
        if (o.tensor !== undefined) expect(p.tensorParallel).toBe(o.tensor);
        if (o.data !== undefined) expect(p.dataParallel).toBe(o.data);
        if (o.expert !== undefined) expect(p.expertParallel).toBe(o.expert);
        if (o.nodesPerReplica !== undefined) expect(p.nodesPerReplica).toBe(o.nodesPerReplica);
        expect(p.tensorParallel * p.dataParallel).toBe(p.gpusPerReplica);
        expect(p.gpusPerReplica).toBeLessThanOrEqual(p.nodesPerReplica * p.gpusPerNode);
      }),
      { numRuns: 400 },
    );
  });
});
