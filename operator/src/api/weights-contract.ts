// The contract between the weights downloader (a Job) and the controller: annotations on the weights
// PVC, failure reasons and exit codes. The controller imports this file; keep it dependency-free.

export const ANNOTATION_PROGRESS = "serving.deepseek-operator.io/weights-progress";
export const ANNOTATION_VERIFIED = "serving.deepseek-operator.io/weights-verified";
export const FIELD_MANAGER = "deepseek-operator-downloader";

/** Where the downloader keeps its own files inside the weights directory. */
export const STATE_DIR = ".deepseek-operator";
export const MARKER_FILE = "complete.json";

export const PHASES = ["Listing", "Downloading", "Verifying", "Complete", "Failed"] as const;
export type Phase = (typeof PHASES)[number];

export const FAILURE_REASONS = [
  "Unauthorized",
  "NotFound",
  "DiskFull",
  "Stalled",
  "ChecksumMismatch",
  "Timeout",
  "NetworkError",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export const EXIT_TRANSIENT = 1;
export const EXIT_PERMANENT = 3;

/** Retrying cannot fix these: a Job that fails with them should not be restarted as is. */
const PERMANENT: ReadonlySet<FailureReason> = new Set(["Unauthorized", "NotFound", "DiskFull"]);

export function isPermanent(reason: FailureReason): boolean {
  return PERMANENT.has(reason);
}

export function exitCodeFor(reason: FailureReason): number {
  return isPermanent(reason) ? EXIT_PERMANENT : EXIT_TRANSIENT;
}

/** The value of the weights-progress annotation. */
export type ProgressReport = {
  phase: Phase;
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
  bytesPerSecond: number;
  /** null while the rate is unknown (no bytes moved yet in the window). */
  etaSeconds: number | null;
  updatedAt: string;
  reason?: FailureReason;
  message?: string;
  repo: string;
  revision: string;
};

export type ParseResult = { ok: true; report: ProgressReport } | { ok: false; error: string };

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function nonNegativeNumber(o: Record<string, unknown>, key: string): number | string {
  const v = o[key];
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
    return `${key} must be a non-negative number, got ${JSON.stringify(v)}`;
  return v;
}

/**
 * Parses the weights-progress annotation. Pure and total: a malformed value (an older or foreign
 * writer, a hand edit) yields an error string instead of throwing, so the controller can surface it.
 */
export function parseProgressAnnotation(value: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, error: "not a JSON object" };
  const o = raw as Record<string, unknown>;
  if (typeof o.phase !== "string" || !(PHASES as readonly string[]).includes(o.phase)) {
    return { ok: false, error: `phase must be one of ${PHASES.join("|")}, got ${JSON.stringify(o.phase)}` };
  }
  const nums: Record<string, number> = {};
  for (const key of ["bytesDone", "bytesTotal", "filesDone", "filesTotal", "bytesPerSecond"]) {
    const v = nonNegativeNumber(o, key);
    if (typeof v === "string") return { ok: false, error: v };
    nums[key] = v;
  }
  let etaSeconds: number | null = null;
  if (o.etaSeconds !== null && o.etaSeconds !== undefined) {
    const v = nonNegativeNumber(o, "etaSeconds");
    if (typeof v === "string") return { ok: false, error: v };
    etaSeconds = v;
  }
  if (typeof o.updatedAt !== "string" || !RFC3339.test(o.updatedAt)) {
    return { ok: false, error: `updatedAt must be an RFC3339 time, got ${JSON.stringify(o.updatedAt)}` };
  }
  if (typeof o.repo !== "string" || typeof o.revision !== "string")
    return { ok: false, error: "repo and revision must be strings" };
  let reason: FailureReason | undefined;
  if (o.reason !== undefined) {
    if (typeof o.reason !== "string" || !(FAILURE_REASONS as readonly string[]).includes(o.reason)) {
      return {
        ok: false,
        error: `reason must be one of ${FAILURE_REASONS.join("|")}, got ${JSON.stringify(o.reason)}`,
      };
    }
    reason = o.reason as FailureReason;
  }
  if (o.phase === "Failed" && reason === undefined) return { ok: false, error: "phase Failed needs a reason" };
  if (o.message !== undefined && typeof o.message !== "string") return { ok: false, error: "message must be a string" };
  const report: ProgressReport = {
    phase: o.phase as Phase,
    bytesDone: nums.bytesDone!,
    bytesTotal: nums.bytesTotal!,
    filesDone: nums.filesDone!,
    filesTotal: nums.filesTotal!,
    bytesPerSecond: nums.bytesPerSecond!,
    etaSeconds,
    updatedAt: o.updatedAt,
    repo: o.repo,
    revision: o.revision,
  };
  if (reason !== undefined) report.reason = reason;
  if (typeof o.message === "string") report.message = o.message;
  return { ok: true, report };
}

/** The annotation value for a report: compact JSON with a stable key order. */
export function formatProgressAnnotation(r: ProgressReport): string {
  const out: Record<string, unknown> = {
    phase: r.phase,
    bytesDone: r.bytesDone,
    bytesTotal: r.bytesTotal,
    filesDone: r.filesDone,
    filesTotal: r.filesTotal,
    bytesPerSecond: Math.round(r.bytesPerSecond),
    etaSeconds: r.etaSeconds === null ? null : Math.round(r.etaSeconds),
    updatedAt: r.updatedAt,
  };
  if (r.reason !== undefined) out.reason = r.reason;
  if (r.message !== undefined) out.message = r.message;
  out.repo = r.repo;
  out.revision = r.revision;
  return JSON.stringify(out);
}
