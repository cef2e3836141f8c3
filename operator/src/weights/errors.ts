import { exitCodeFor, isPermanent, type FailureReason } from "../api/weights-contract.ts";

/** A failure the downloader reports as is: a contract reason, a sentence for humans, an exit code. */
export class WeightsError extends Error {
  readonly reason: FailureReason;
  constructor(reason: FailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WeightsError";
    this.reason = reason;
  }
  get exitCode(): number {
    return exitCodeFor(this.reason);
  }
  get permanent(): boolean {
    return isPermanent(this.reason);
  }
}

/**
 * A URL as it may appear in a message, a log line or the PVC's failure annotation: scheme, host and
 * path only. The query of a CDN redirect is its signature (a bearer credential until it expires), and
 * user info is a password; neither may leave the process.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?<redacted>" : ""}`;
  } catch {
    return "<unparseable URL>";
  }
}

/** An HTTP answer that is not what we asked for, with what is needed to classify it. */
export class HttpStatusError extends Error {
  readonly status: number;
  readonly url: string;
  /** The Hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo). */
  readonly hubErrorCode: string | undefined;
  /** Seconds from a Retry-After header, when present. */
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, url: string, hubErrorCode?: string, retryAfterSeconds?: number, detail?: string) {
    super(
      `HTTP ${status} from ${redactUrl(url)}${hubErrorCode ? ` (${hubErrorCode})` : ""}${detail ? `: ${detail}` : ""}`,
    );
    this.name = "HttpStatusError";
    this.status = status;
    this.url = url;
    this.hubErrorCode = hubErrorCode;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** No byte arrived for the stall timeout. */
export class StallError extends Error {
  readonly url: string;
  constructor(url: string, seconds: number) {
    super(`no bytes from ${redactUrl(url)} for ${seconds} s`);
    this.name = "StallError";
    this.url = url;
  }
}

export function isEnospc(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as NodeJS.ErrnoException).code === "ENOSPC";
}
