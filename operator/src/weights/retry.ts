// Which failures are worth another try, and how long to wait before it. Pure: the caller owns the clock
// and the randomness, so tests can pin both.
import { HttpStatusError, StallError, WeightsError, isEnospc } from "./errors.ts";
import type { FailureReason } from "../api/weights-contract.ts";

export type RetryPolicy = {
  /** Attempts without progress before giving up on one transfer. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
};

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 60_000 };

export type Classified =
  | { kind: "permanent"; reason: FailureReason; message: string }
  | { kind: "transient"; reason: FailureReason; message: string; retryAfterMs?: number };

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** A certificate this process does not trust: no retry changes that, the trust store must. */
const UNTRUSTED_CERT_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Sorts an error from a transfer into permanent (stop everything) or transient (retry this transfer). */
export function classify(err: unknown): Classified {
  if (err instanceof WeightsError) {
    return err.permanent
      ? { kind: "permanent", reason: err.reason, message: err.message }
      : { kind: "transient", reason: err.reason, message: err.message };
  }
  if (isEnospc(err))
    return { kind: "permanent", reason: "DiskFull", message: `no space left on device: ${(err as Error).message}` };
  if (err instanceof StallError) return { kind: "transient", reason: "Stalled", message: err.message };
  if (err instanceof HttpStatusError) {
    const s = err.status;
    if (s === 401 || s === 403) {
      const why =
        err.hubErrorCode === "GatedRepo"
          ? "the repository is gated and this token has not been granted access"
          : "the token is missing, invalid or lacks access";
      return { kind: "permanent", reason: "Unauthorized", message: `${err.message}: ${why}` };
    }
    if (s === 404) {
      const what =
        err.hubErrorCode === "RevisionNotFound"
          ? "revision"
          : err.hubErrorCode === "EntryNotFound"
            ? "file"
            : "repository or revision";
      return { kind: "permanent", reason: "NotFound", message: `${err.message}: ${what} not found` };
    }
    if (s === 429 || s === 408 || s >= 500) {
      const c: Classified = { kind: "transient", reason: "NetworkError", message: err.message };
      if (err.retryAfterSeconds !== undefined) c.retryAfterMs = err.retryAfterSeconds * 1000;
      return c;
    }
    // Other 4xx (400, 416...) will not change on retry, but they are not one of the user-facing causes either.
    return { kind: "permanent", reason: "NetworkError", message: err.message };
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code && UNTRUSTED_CERT_CODES.has(code))
    return {
      kind: "permanent",
      reason: "NetworkError",
      message:
        `${code}: ${message}: the server's certificate is not trusted here; behind a TLS-inspecting proxy, ` +
        "give the downloader the proxy's CA (the chart's weights.caBundle)",
    };
  if (code && TRANSIENT_CODES.has(code))
    return { kind: "transient", reason: "NetworkError", message: `${code}: ${message}` };
  // Unknown socket-level failures (aborted responses, parser errors) are worth another try.
  return { kind: "transient", reason: "NetworkError", message };
}

/**
 * Delay before attempt `attempt` (1 = first retry): exponential backoff with full jitter, never below a
 * server's Retry-After. `random` is in [0, 1).
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: number, retryAfterMs?: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  // Half fixed, half jitter: spreads retries of parallel transfers without ever retrying immediately.
  const jittered = exp / 2 + (exp / 2) * random;
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** Parses Retry-After: delta-seconds or an HTTP date (relative to `nowMs`). */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const t = Date.parse(trimmed);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.ceil((t - nowMs) / 1000));
}
