// What the operator knows about a model's weights, read from the PVC's annotations (written by
// the downloader under its own field manager) and the Job's status. Pure: no I/O.
import {
  ANNOTATION_PROGRESS,
  ANNOTATION_VERIFIED,
  isPermanent,
  parseProgressAnnotation,
} from "../api/weights-contract.ts";

export type WeightsPhase = "Pending" | "Listing" | "Downloading" | "Verifying" | "Complete" | "Failed";

export interface WeightsState {
  phase: WeightsPhase;
  verified: boolean;
  bytesDone?: number;
  bytesTotal?: number;
  filesDone?: number;
  filesTotal?: number;
  bytesPerSecond?: number;
  etaSeconds?: number;
  reason?: string;
  message?: string;
  updatedAt?: string;
  /** Failures that retrying cannot fix without a change (token, repo, revision, disk size). */
  permanent: boolean;
}

export interface JobFacts {
  exists: boolean;
  active: boolean;
  succeeded: boolean;
  failed: boolean;
  failureMessage?: string;
}

export function weightsState(
  annotations: Record<string, string> | undefined,
  revision: string,
  job: JobFacts,
): WeightsState {
  const verified = annotations?.[ANNOTATION_VERIFIED] === revision;
  const raw = annotations?.[ANNOTATION_PROGRESS];
  const parsed = raw ? parseProgressAnnotation(raw) : undefined;
  // A malformed or foreign annotation counts as no report: the Job's own status still speaks.
  const base = parsed?.ok && parsed.report.revision === revision ? parsed.report : undefined;
  if (verified) {
    return {
      phase: "Complete",
      verified: true,
      permanent: false,
      bytesDone: base?.bytesTotal ?? base?.bytesDone,
      bytesTotal: base?.bytesTotal,
      filesDone: base?.filesTotal ?? base?.filesDone,
      filesTotal: base?.filesTotal,
      updatedAt: base?.updatedAt,
    };
  }
  const failedByJob = job.failed && base?.phase !== "Failed";
  const phase: WeightsPhase = job.failed ? "Failed" : (base?.phase ?? "Pending");
  const reason = base?.phase === "Failed" ? base.reason : failedByJob ? "JobFailed" : undefined;
  return {
    phase: phase === "Complete" ? "Verifying" : phase,
    verified: false,
    bytesDone: base?.bytesDone,
    bytesTotal: base?.bytesTotal,
    filesDone: base?.filesDone,
    filesTotal: base?.filesTotal,
    bytesPerSecond: phase === "Downloading" ? base?.bytesPerSecond : undefined,
    etaSeconds: phase === "Downloading" ? (base?.etaSeconds ?? undefined) : undefined,
    reason,
    message:
      base?.phase === "Failed"
        ? base.message
        : failedByJob
          ? (job.failureMessage ?? "the download Job failed")
          : undefined,
    updatedAt: base?.updatedAt,
    permanent: base?.phase === "Failed" && base.reason !== undefined && isPermanent(base.reason),
  };
}

export function percent(done: number | undefined, total: number | undefined): string | undefined {
  if (!total || done === undefined) return undefined;
  return `${Math.floor((100 * Math.min(done, total)) / total)}%`;
}

/** Retry delay after the n-th failed attempt: 30 s doubling to 30 min; permanent failures wait longest. */
export function retryDelaySeconds(attempts: number, permanent: boolean): number {
  if (permanent) return 1800;
  return Math.min(1800, 30 * 2 ** Math.max(0, attempts - 1));
}
