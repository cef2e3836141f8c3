import type { IncomingHttpHeaders } from "node:http";
import type { Expected } from "./plan.ts";

/** A file as a source lists it, with the URL to fetch it from. */
export type RemoteFile = Expected & { url: string };

export type Listing = {
  /** The immutable commit the files belong to, when the source has one (the Hub does). */
  commit: string | null;
  files: RemoteFile[];
};

export type Headers = Record<string, string | string[] | undefined>;

/** Headers of the first hop (the Hub's redirect) and of the answer that carries the bytes. */
export type TransferHeaders = { first: Headers; final: Headers };

/** Where weights come from: the Hub (or a mirror of its API), or a plain HTTPS folder with a manifest. */
export interface Source {
  readonly kind: "hub" | "url";
  /** For logs and messages: endpoint and repo, or the base URL. */
  readonly description: string;
  /** Sent as a Bearer token to the source's own origin (never across a redirect to another origin). */
  readonly token: string | undefined;
  list(signal?: AbortSignal): Promise<Listing>;
  /**
   * Checks a transfer's first-hop headers against the listing, so a file that changed under a moving
   * revision is caught on the first byte instead of after a full download. Throws on a mismatch.
   */
  checkTransfer(file: RemoteFile, headers: TransferHeaders, commit: string | null): void;
}

export function headerValue(h: Headers | IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** An ETag without W/ and quotes. */
export function normalizeEtag(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  return v.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

/** Encodes each segment of a repository path for a URL, keeping the slashes. */
export function encodePath(p: string): string {
  return p.split("/").map(encodeURIComponent).join("/");
}
