// Where a file's bytes were found after its redirects. The Hub answers every resolve request with a
// redirect to a signed CDN URL, and it rate-limits resolve requests: a 160 GB model in 64 MiB parts would
// ask ~2,500 times if every part started from the resolve URL. Like huggingface_hub (which resolves once
// and hands the CDN URL to hf_transfer), the downloader resolves a file once and fetches its parts from
// where the bytes are, until the signed URL expires or is refused.
import { HttpStatusError } from "./errors.ts";
import type { HeaderMap } from "./range-client.ts";

/** Longest reuse of a redirect target whose URL does not say when it expires. */
export const LOCATION_TTL_MS = 10 * 60_000;
/** A signed URL is dropped this long before its stated expiry, so no request races it. */
const EXPIRY_MARGIN_MS = 60_000;
/** Answers from a reused target that mean "resolve again", not "give up": expired, revoked or moved. */
const STALE_STATUSES = new Set([401, 403, 404, 410]);

export type Location = {
  /** The URL that answered with the bytes. */
  url: string;
  /** The first answer's headers (the Hub's X-Repo-Commit, X-Linked-Size, X-Linked-Etag). */
  firstHeaders: HeaderMap;
  until: number;
};

/**
 * Until when `url` may be reused: its own expiry when it is signed the S3 way (X-Amz-Date + X-Amz-Expires)
 * or the CloudFront way (Expires, epoch seconds), less a margin, and never past the TTL.
 */
export function locationExpiry(url: string, now: number): number {
  const q = new URL(url).searchParams;
  let until = now + LOCATION_TTL_MS;
  const amzDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get("X-Amz-Date") ?? "");
  const amzExpires = q.get("X-Amz-Expires");
  if (amzDate && amzExpires && /^\d+$/.test(amzExpires)) {
    const [, y, mo, d, h, mi, s] = amzDate.map(Number);
    until = Math.min(until, Date.UTC(y!, mo! - 1, d, h, mi, s) + Number(amzExpires) * 1000 - EXPIRY_MARGIN_MS);
  }
  const expires = q.get("Expires");
  if (expires && /^\d+$/.test(expires)) until = Math.min(until, Number(expires) * 1000 - EXPIRY_MARGIN_MS);
  return until;
}

/** Whether an HTTP status from a reused target means the target went stale. */
export const isStaleLocationStatus = (status: number) => STALE_STATUSES.has(status);

/** Redirect targets by the URL asked for; one per pull (a RangeClient's lifetime). */
export class Locations {
  private readonly byUrl = new Map<string, Location>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** A target still fresh for `url`, if any. */
  get(url: string): Location | undefined {
    const l = this.byUrl.get(url);
    if (l && l.until <= this.now()) {
      this.byUrl.delete(url);
      return undefined;
    }
    return l;
  }

  /** Remembers that `url` led to `target`; a target reached without a redirect is not worth keeping. */
  remember(url: string, target: string, firstHeaders: HeaderMap): void {
    if (target === url) return;
    this.byUrl.set(url, { url: target, firstHeaders, until: locationExpiry(target, this.now()) });
  }

  /** Forgets `l` for `url` (unless another fetch already replaced it). */
  forget(url: string, l: Location): void {
    if (this.byUrl.get(url) === l) this.byUrl.delete(url);
  }

  /**
   * Runs `follow` from where `url` led before (with that first answer's headers), or from `url` itself; a
   * known target that answers as stale is forgotten and `url` followed again.
   */
  async via(url: string, follow: (from: string, firstHeaders?: HeaderMap) => Promise<void>): Promise<void> {
    const known = this.get(url);
    if (known) {
      try {
        return await follow(known.url, known.firstHeaders);
      } catch (err) {
        if (!(err instanceof HttpStatusError) || !isStaleLocationStatus(err.status)) throw err;
        this.forget(url, known);
      }
    }
    return follow(url);
  }
}
