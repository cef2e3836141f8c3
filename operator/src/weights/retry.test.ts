import { describe, expect, it } from "@jest/globals";
import { HttpStatusError, StallError, WeightsError } from "./errors.ts";
import { etaSeconds, RateEstimator } from "./rate.ts";
import { backoffDelayMs, classify, parseRetryAfter } from "./retry.ts";

const errno = (code: string) => Object.assign(new Error(code), { code });

describe("classify", () => {
  it("stops on credentials and missing repos or revisions", () => {
    expect(classify(new HttpStatusError(401, "u"))).toMatchObject({ kind: "permanent", reason: "Unauthorized" });
    expect(classify(new HttpStatusError(403, "u", "GatedRepo"))).toMatchObject({
      kind: "permanent",
      reason: "Unauthorized",
      message: expect.stringContaining("gated"),
    });
    expect(classify(new HttpStatusError(404, "u", "RevisionNotFound"))).toMatchObject({
      kind: "permanent",
      reason: "NotFound",
      message: expect.stringContaining("revision not found"),
    });
    expect(classify(new HttpStatusError(404, "u", "RepoNotFound"))).toMatchObject({
      kind: "permanent",
      reason: "NotFound",
    });
    expect(classify(errno("ENOSPC"))).toMatchObject({ kind: "permanent", reason: "DiskFull" });
  });

  it("retries server errors, rate limits, resets and stalls", () => {
    expect(classify(new HttpStatusError(503, "u"))).toMatchObject({ kind: "transient", reason: "NetworkError" });
    expect(classify(new HttpStatusError(429, "u", undefined, 7))).toMatchObject({
      kind: "transient",
      retryAfterMs: 7000,
    });
    expect(classify(errno("ECONNRESET"))).toMatchObject({ kind: "transient", reason: "NetworkError" });
    expect(classify(new StallError("u", 60))).toMatchObject({ kind: "transient", reason: "Stalled" });
  });

  it("stops on a certificate it does not trust, naming the CA bundle that fixes it", () => {
    for (const code of [
      "SELF_SIGNED_CERT_IN_CHAIN",
      "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
      "ERR_TLS_CERT_ALTNAME_INVALID",
    ])
      expect(classify(errno(code))).toMatchObject({
        kind: "permanent",
        reason: "NetworkError",
        message: expect.stringContaining("weights.caBundle"),
      });
    expect(classify(errno("UND_ERR_BODY_TIMEOUT"))).toMatchObject({ kind: "transient" });
  });

  it("keeps the reason of a WeightsError", () => {
    expect(classify(new WeightsError("ChecksumMismatch", "x"))).toMatchObject({
      kind: "transient",
      reason: "ChecksumMismatch",
    });
    expect(classify(new WeightsError("DiskFull", "x"))).toMatchObject({ kind: "permanent", reason: "DiskFull" });
  });
});

describe("backoffDelayMs", () => {
  const policy = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 60_000 };

  it("grows exponentially within [exp/2, exp] and caps", () => {
    expect(backoffDelayMs(policy, 1, 0)).toBe(500);
    expect(backoffDelayMs(policy, 1, 0.999)).toBeLessThanOrEqual(1000);
    expect(backoffDelayMs(policy, 3, 0)).toBe(2000);
    expect(backoffDelayMs(policy, 30, 1)).toBe(60_000);
  });

  it("never retries before the server's Retry-After", () => {
    expect(backoffDelayMs(policy, 1, 0, 30_000)).toBe(30_000);
  });
});

it("parses Retry-After as seconds or an HTTP date", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");
  expect(parseRetryAfter("120", now)).toBe(120);
  expect(parseRetryAfter("Sat, 28 Nov 2026 12:00:30 GMT", now)).toBe(30);
  expect(parseRetryAfter("soon", now)).toBeUndefined();
  expect(parseRetryAfter(undefined, now)).toBeUndefined();
});

describe("RateEstimator", () => {
  it("measures over the moving window only", () => {
    const r = new RateEstimator(10_000);
    expect(r.bytesPerSecond()).toBe(0);
    r.add(0, 0);
    r.add(5_000, 500_000_000); // a fast start...
    for (let t = 6_000; t <= 30_000; t += 1000) r.add(t, 500_000_000 + (t - 5_000) * 10_000); // ...then 10 MB/s
    expect(r.bytesPerSecond()).toBeCloseTo(10_000_000, -3);
  });

  it("gives the ETA of the bytes left, unknown without a rate", () => {
    expect(etaSeconds(1000, 100)).toBe(10);
    expect(etaSeconds(0, 0)).toBe(0);
    expect(etaSeconds(1000, 0)).toBeNull();
  });
});
