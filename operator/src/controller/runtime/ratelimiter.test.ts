import { describe, expect, it } from "@jest/globals";
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
} from "./ratelimiter.ts";
import { FakeClock } from "./testing.ts";

describe("ItemExponentialFailureRateLimiter", () => {
  it("doubles per failure from the base and stops at the cap", () => {
    const rl = new ItemExponentialFailureRateLimiter(5, 1000);
    const delays = Array.from({ length: 10 }, () => rl.when("a"));
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    expect(rl.numRequeues("a")).toBe(10);
  });

  it("tracks keys independently and forget() resets one key only", () => {
    const rl = new ItemExponentialFailureRateLimiter(5, 1000);
    rl.when("a");
    rl.when("a");
    rl.when("b");
    rl.forget("a");
    expect(rl.numRequeues("a")).toBe(0);
    expect(rl.when("a")).toBe(5);
    expect(rl.when("b")).toBe(10);
  });

  it("defaults to controller-runtime's 5 ms → 1000 s and never overflows past the cap", () => {
    const rl = new ItemExponentialFailureRateLimiter();
    let last = 0;
    for (let i = 0; i < 2000; i++) last = rl.when("k");
    expect(last).toBe(1000_000);
  });

  it("rejects a cap below the base", () => {
    expect(() => new ItemExponentialFailureRateLimiter(10, 5)).toThrow(/invalid exponential backoff/);
  });
});

describe("BucketRateLimiter", () => {
  it("lets a burst through, then spaces calls at 1/qps", () => {
    const clock = new FakeClock();
    const rl = new BucketRateLimiter(clock, 10, 3);
    expect([rl.when("a"), rl.when("b"), rl.when("c")]).toEqual([0, 0, 0]);
    // Tokens go negative: each further reservation waits one more 100 ms slot.
    expect([rl.when("d"), rl.when("e"), rl.when("f")]).toEqual([100, 200, 300]);
  });

  it("refills over time up to the burst size", async () => {
    const clock = new FakeClock();
    const rl = new BucketRateLimiter(clock, 10, 2);
    rl.when("a");
    rl.when("b");
    await clock.advance(10_000);
    expect([rl.when("c"), rl.when("d"), rl.when("e")]).toEqual([0, 0, 100]);
  });
});

describe("defaultControllerRateLimiter", () => {
  it("is the max of per-item backoff and the global bucket", () => {
    const clock = new FakeClock();
    const rl = defaultControllerRateLimiter(clock, { qps: 10, burst: 2 });
    // Three different keys: per-item delay is 5 ms each, the bucket dominates from the third call.
    expect(rl.when("a")).toBe(5);
    expect(rl.when("b")).toBe(5);
    expect(rl.when("c")).toBe(100);
    expect(rl.numRequeues("a")).toBe(1);
    rl.forget("a");
    expect(rl.numRequeues("a")).toBe(0);
  });

  it("MaxOf records every call in every limiter", () => {
    const a = new ItemExponentialFailureRateLimiter(1, 100);
    const b = new ItemExponentialFailureRateLimiter(2, 100);
    const rl = new MaxOfRateLimiter(a, b);
    expect([rl.when("k"), rl.when("k"), rl.when("k")]).toEqual([2, 4, 8]);
    expect(a.numRequeues("k")).toBe(3);
  });
});
