// The scheduler on a fake clock: every step is driven by tick(t), so counts are exact and no assertion
// depends on how fast this machine is.
import { describe, expect, it } from "@jest/globals";
import { EngineCore, type EngineCoreOptions, type FinishedInfo, type FinishReason } from "./scheduler.ts";

function core(over: Partial<EngineCoreOptions> = {}) {
  let now = 0;
  const c = new EngineCore({
    ranks: 1,
    maxSeqsPerRank: 4,
    kvBlocksPerRank: 1000,
    blockSize: 16,
    tokensPerSecondPerSeq: 100,
    prefillTokensPerSecond: 1e6,
    batchSlowdown: 0.1,
    dispatch: "least-loaded",
    tickSeconds: 0.01,
    clock: () => now,
    ...over,
  });
  const run = (seconds: number, step = 0.01) => {
    const end = now + seconds;
    while (now < end - 1e-9) {
      now = Math.min(end, now + step);
      c.tick(now);
    }
  };
  return { c, run, time: () => now };
}

function submitMany(c: EngineCore, count: number, req: { promptTokens?: number; outputTokens: number }) {
  const done: Array<{ reason: FinishReason | "error"; generated: number; streamed: number }> = [];
  for (let i = 0; i < count; i++) {
    let streamed = 0;
    c.submit({
      promptTokens: req.promptTokens ?? 10,
      outputTokens: req.outputTokens,
      finishReason: "length",
      // A gap or overlap in `from` poisons the count, so the equality checks below catch it.
      onTokens: (from, n) => {
        streamed = from === streamed ? streamed + n : NaN;
      },
      onFinish: (reason, generated) => done.push({ reason, generated, streamed }),
    });
  }
  return done;
}

describe("EngineCore", () => {
  it("generates exactly the requested tokens, streamed in order", () => {
    const { c, run } = core();
    const done = submitMany(c, 3, { outputTokens: 25 });
    run(5);
    expect(done).toEqual(Array.from({ length: 3 }, () => ({ reason: "length", generated: 25, streamed: 25 })));
    expect(c.inFlight()).toBe(0);
    expect(c.snapshot()[0]!.usedBlocks).toBe(0);
  });

  it("queues beyond max running sequences and drains the queue", () => {
    const { c, run } = core({ maxSeqsPerRank: 2 });
    const done = submitMany(c, 5, { outputTokens: 10 });
    expect(c.snapshot()[0]).toMatchObject({ running: 2, waiting: 3 });
    run(0.05);
    expect(c.snapshot()[0]!.waiting).toBe(3);
    run(10);
    expect(c.snapshot()[0]).toMatchObject({ running: 0, waiting: 0 });
    expect(done).toHaveLength(5);
  });

  it("grows aggregate throughput sub-linearly with the batch", () => {
    const tokensIn = (n: number) => {
      const { c, run } = core({ maxSeqsPerRank: 64, kvBlocksPerRank: 100000 });
      let total = 0;
      c.observe({
        tokensGenerated: (_r, k) => {
          total += k;
        },
      });
      submitMany(c, n, { outputTokens: 5000 });
      run(10);
      return total;
    };
    const one = tokensIn(1);
    const eight = tokensIn(8);
    const sixtyFour = tokensIn(64);
    // One sequence alone decodes at tokensPerSecondPerSeq (100/s) for 10 s.
    expect(one).toBeGreaterThanOrEqual(990);
    expect(one).toBeLessThanOrEqual(1001);
    expect(eight).toBeGreaterThan(one);
    expect(eight).toBeLessThan(8 * one);
    expect(sixtyFour).toBeGreaterThan(eight);
    expect(sixtyFour / 64).toBeLessThan(eight / 8);
  });

  it("slows down under a load multiplier and stands still when wedged", () => {
    const a = core();
    submitMany(a.c, 1, { outputTokens: 5000 });
    let tokens = 0;
    a.c.observe({
      tokensGenerated: (_r, k) => {
        tokens += k;
      },
    });
    a.run(1);
    const normal = tokens;
    a.c.setLoadMultiplier(2);
    tokens = 0;
    a.run(1);
    expect(tokens).toBeLessThanOrEqual(Math.ceil(normal / 2) + 1);
    expect(tokens).toBeGreaterThanOrEqual(Math.floor(normal / 2) - 1);
    a.c.setWedged(true);
    tokens = 0;
    a.run(1);
    expect(tokens).toBe(0);
    a.c.setWedged(false);
    a.run(0.5);
    expect(tokens).toBeGreaterThan(0);
  });

  it("fills KV with running tokens, waits for blocks, and preempts when decode runs out", () => {
    // 10 blocks of 16 tokens; each prompt needs 3 blocks (33 tokens + 1).
    const { c, run } = core({ kvBlocksPerRank: 10, maxSeqsPerRank: 8, tokensPerSecondPerSeq: 1000, batchSlowdown: 0 });
    let preemptions = 0;
    c.observe({ preempted: () => preemptions++ });
    const done = submitMany(c, 4, { promptTokens: 33, outputTokens: 60 });
    // Three fit (9 blocks), the fourth waits for blocks although a running slot is free.
    expect(c.snapshot()[0]).toMatchObject({ running: 3, waiting: 1, usedBlocks: 9, kvUsage: 0.9 });
    run(0.1);
    expect(preemptions).toBeGreaterThan(0);
    run(5);
    expect(done.map((d) => d.generated)).toEqual([60, 60, 60, 60]);
    expect(c.snapshot()[0]).toMatchObject({ running: 0, waiting: 0, usedBlocks: 0 });
  });

  it("spreads requests over DP ranks by load, or round-robin", () => {
    const ll = core({ ranks: 4 });
    submitMany(ll.c, 8, { outputTokens: 5 });
    expect(ll.c.snapshot().map((s) => s.running)).toEqual([2, 2, 2, 2]);
    const rr = core({ ranks: 3, dispatch: "round-robin" });
    submitMany(rr.c, 4, { outputTokens: 5 });
    expect(rr.c.snapshot().map((s) => s.running)).toEqual([2, 1, 1]);
  });

  it("reports timings and aborts, and frees what an aborted sequence held", () => {
    const { c, run, time } = core({ maxSeqsPerRank: 1, tokensPerSecondPerSeq: 10 });
    const finished: FinishedInfo[] = [];
    const ttft: number[] = [];
    c.observe({ finished: (_r, i) => finished.push(i), firstToken: (_r, t) => ttft.push(t) });
    const first = c.submit({ promptTokens: 5, outputTokens: 10, finishReason: "stop" });
    c.submit({ promptTokens: 5, outputTokens: 2, finishReason: "stop" });
    run(0.5);
    first.abort();
    expect(finished[0]).toMatchObject({ reason: "abort", promptTokens: 5, queueSeconds: 0 });
    run(2);
    expect(finished[1]).toMatchObject({ reason: "stop", generated: 2 });
    expect(finished[1]!.queueSeconds).toBeCloseTo(0.5, 5);
    expect(ttft).toHaveLength(2);
    expect(time()).toBeCloseTo(2.5, 5);
    expect(c.snapshot()[0]!.usedBlocks).toBe(0);
  });

  it("fails everything in flight when the engine dies", () => {
    const { c } = core({ maxSeqsPerRank: 1 });
    const done = submitMany(c, 2, { outputTokens: 5 });
    c.failAll();
    expect(done.map((d) => d.reason)).toEqual(["error", "error"]);
    expect(c.inFlight()).toBe(0);
  });

  it("refuses sequences that can never fit", () => {
    const { c } = core({ kvBlocksPerRank: 2, blockSize: 16 });
    expect(() => c.submit({ promptTokens: 30, outputTokens: 5, finishReason: "stop" })).toThrow(/KV blocks/);
  });
});
