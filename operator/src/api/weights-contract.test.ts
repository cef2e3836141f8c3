import { describe, expect, it } from "@jest/globals";
import {
  ANNOTATION_PROGRESS,
  ANNOTATION_VERIFIED,
  EXIT_PERMANENT,
  EXIT_TRANSIENT,
  exitCodeFor,
  formatProgressAnnotation,
  parseProgressAnnotation,
  type ProgressReport,
} from "./weights-contract.ts";

const report: ProgressReport = {
  phase: "Downloading",
  bytesDone: 1_000,
  bytesTotal: 159_617_149_040,
  filesDone: 3,
  filesTotal: 49,
  bytesPerSecond: 250_000_000,
  etaSeconds: 638,
  updatedAt: "2026-11-28T12:00:00.000Z",
  repo: "deepseek-ai/DeepSeek-V4-Flash",
  revision: "60d8d70770c6776ff598c94bb586a859a38244f1",
};

describe("weights annotation contract", () => {
  it("keeps the exact annotation keys the controller reads", () => {
    expect(ANNOTATION_PROGRESS).toBe("serving.deepseek-operator.io/weights-progress");
    expect(ANNOTATION_VERIFIED).toBe("serving.deepseek-operator.io/weights-verified");
  });

  it("round-trips a report through format and parse", () => {
    const parsed = parseProgressAnnotation(formatProgressAnnotation(report));
    expect(parsed).toEqual({ ok: true, report });
  });

  it("parses a Failed report with its reason and message", () => {
    const failed = {
      ...report,
      phase: "Failed" as const,
      etaSeconds: null,
      reason: "Unauthorized" as const,
      message: "HTTP 401",
    };
    const parsed = parseProgressAnnotation(formatProgressAnnotation(failed));
    expect(parsed.ok && parsed.report.reason).toBe("Unauthorized");
    expect(parsed.ok && parsed.report.etaSeconds).toBeNull();
  });

  it("rejects malformed values with a reason instead of throwing", () => {
    const bad = (v: unknown) => parseProgressAnnotation(typeof v === "string" ? v : JSON.stringify(v));
    expect(bad("{not json")).toMatchObject({ ok: false });
    expect(bad([1])).toMatchObject({ ok: false, error: "not a JSON object" });
    expect(bad({ ...report, phase: "Sleeping" })).toMatchObject({ ok: false });
    expect(bad({ ...report, bytesDone: -1 })).toMatchObject({ ok: false, error: expect.stringContaining("bytesDone") });
    expect(bad({ ...report, bytesTotal: "12" })).toMatchObject({ ok: false });
    expect(bad({ ...report, updatedAt: "yesterday" })).toMatchObject({
      ok: false,
      error: expect.stringContaining("updatedAt"),
    });
    expect(bad({ ...report, phase: "Failed" })).toMatchObject({ ok: false, error: "phase Failed needs a reason" });
    expect(bad({ ...report, phase: "Failed", reason: "Bored" })).toMatchObject({ ok: false });
    const { repo: _r, ...noRepo } = report;
    expect(bad(noRepo)).toMatchObject({ ok: false });
  });

  it("maps permanent reasons to exit 3 and the rest to 1", () => {
    for (const r of ["Unauthorized", "NotFound", "DiskFull"] as const) expect(exitCodeFor(r)).toBe(EXIT_PERMANENT);
    for (const r of ["Stalled", "ChecksumMismatch", "Timeout", "NetworkError"] as const)
      expect(exitCodeFor(r)).toBe(EXIT_TRANSIENT);
  });
});
