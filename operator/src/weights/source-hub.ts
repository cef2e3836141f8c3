// The Hugging Face Hub as a source, through the same HTTP API huggingface_hub uses:
// - `GET {endpoint}/api/models/{repo}/revision/{revision}` resolves the revision to a commit `sha`
//   (snapshot_download calls repo_info first for the same reason: every later URL is pinned to it);
// - `GET {endpoint}/api/models/{repo}/tree/{commit}?recursive=true` lists files with sizes, the git
//   blob id (`oid`) and, for LFS files, `lfs.oid` = the sha256 of the content. Pages follow the
//   `Link: <...>; rel="next"` header (huggingface_hub utils/_pagination.py `paginate`);
// - `{endpoint}/{repo}/resolve/{commit}/{path}` serves a file; LFS files answer with a redirect to a
//   CDN carrying X-Repo-Commit, X-Linked-Etag (the sha256) and X-Linked-Size (file_download.py
//   `get_hf_file_metadata`). Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound,
//   GatedRepo), as `hf_raise_for_status` reads them.
import type { IncomingHttpHeaders } from "node:http";
import { redactUrl, WeightsError } from "./errors.ts";
import type { HttpClient } from "./http.ts";
import { safeRelativePath } from "./layout.ts";
import {
  encodePath,
  headerValue,
  normalizeEtag,
  type Listing,
  type RemoteFile,
  type Source,
  type TransferHeaders,
} from "./source.ts";
import { compareStrings } from "../util/compare.ts";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

type TreeEntry = {
  type: "file" | "directory";
  path: string;
  size?: number;
  oid?: string;
  lfs?: { oid: string; size: number; pointerSize?: number };
};

/** The URL of the next page from a Link header, if any. */
export function nextPageUrl(link: string | undefined, base: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (m && /\brel="?next"?/.test(m[2]!)) return new URL(m[1]!, base).toString();
  }
  return undefined;
}

/** Turns tree entries into the files to fetch (directories dropped, paths checked, hashes lower-cased). */
export function filesFromTree(entries: readonly TreeEntry[], fileUrl: (path: string) => string): RemoteFile[] {
  const files: RemoteFile[] = [];
  for (const e of entries) {
    if (e.type !== "file") continue;
    const path = safeRelativePath(e.path);
    const size = e.lfs?.size ?? e.size;
    if (typeof size !== "number" || size < 0) throw new Error(`tree entry ${e.path} has no size`);
    const sha256 = e.lfs?.oid ? e.lfs.oid.toLowerCase() : null;
    if (sha256 !== null && !/^[0-9a-f]{64}$/.test(sha256))
      throw new Error(`tree entry ${e.path} has an LFS oid that is not a sha256: ${e.lfs?.oid}`);
    files.push({ path, size, sha256, gitOid: e.oid?.toLowerCase() ?? null, url: fileUrl(path) });
  }
  return files.sort((a, b) => compareStrings(a.path, b.path));
}

export class HubSource implements Source {
  readonly kind = "hub" as const;
  readonly description: string;
  readonly token: string | undefined;
  private readonly endpoint: string;
  private readonly repo: string;
  private readonly revision: string;
  private readonly http: HttpClient;

  constructor(opts: { endpoint: string; repo: string; revision: string; token: string | undefined; http: HttpClient }) {
    this.endpoint = opts.endpoint.replace(/\/+$/, "");
    this.repo = opts.repo;
    this.revision = opts.revision;
    this.token = opts.token;
    this.http = opts.http;
    this.description = `${this.endpoint}/${this.repo}@${this.revision}`;
  }

  fileUrl(commit: string, path: string): string {
    return `${this.endpoint}/${this.repo}/resolve/${encodeURIComponent(commit)}/${encodePath(path)}`;
  }

  async list(signal?: AbortSignal): Promise<Listing> {
    // A full commit id needs no resolving (the operator pins one): the tree request answers 401/403/404
    // for the repo and the commit just as the revision request would, one round trip sooner.
    let commit = this.revision;
    if (!/^[0-9a-f]{40}$/.test(this.revision)) {
      const revUrl = `${this.endpoint}/api/models/${this.repo}/revision/${encodeURIComponent(this.revision)}`;
      const { json: info } = await this.http.getJson<{ sha?: string }>(revUrl, { token: this.token, signal });
      if (typeof info.sha === "string" && info.sha) commit = info.sha;
    }
    const entries: TreeEntry[] = [];
    let url: string | undefined =
      `${this.endpoint}/api/models/${this.repo}/tree/${encodeURIComponent(commit)}?recursive=true`;
    for (let page = 0; url; page++) {
      if (page > 10_000) throw new Error(`tree listing of ${this.repo} did not end after 10000 pages`);
      const { json, headers }: { json: TreeEntry[]; headers: IncomingHttpHeaders } = await this.http.getJson<
        TreeEntry[]
      >(url, { token: this.token, signal });
      if (!Array.isArray(json)) throw new Error(`tree listing ${redactUrl(url)} is not a JSON array`);
      entries.push(...json);
      url = nextPageUrl(headerValue(headers, "link"), url);
    }
    return { commit, files: filesFromTree(entries, (p) => this.fileUrl(commit, p)) };
  }

  checkTransfer(file: RemoteFile, headers: TransferHeaders, commit: string | null): void {
    const h = headers.first;
    const repoCommit = headerValue(h, "x-repo-commit");
    if (commit && repoCommit && repoCommit !== commit) {
      throw new WeightsError(
        "ChecksumMismatch",
        `${file.path}: the Hub served commit ${repoCommit}, the listing is of ${commit}`,
      );
    }
    const linkedSize = headerValue(h, "x-linked-size");
    if (linkedSize !== undefined && Number(linkedSize) !== file.size) {
      throw new WeightsError(
        "ChecksumMismatch",
        `${file.path}: the Hub says ${linkedSize} bytes (X-Linked-Size), the listing says ${file.size}`,
      );
    }
    const linkedEtag = normalizeEtag(headerValue(h, "x-linked-etag"))?.toLowerCase();
    if (file.sha256 && linkedEtag && /^[0-9a-f]{64}$/.test(linkedEtag) && linkedEtag !== file.sha256) {
      throw new WeightsError(
        "ChecksumMismatch",
        `${file.path}: the Hub's X-Linked-Etag ${linkedEtag} differs from the listed sha256 ${file.sha256}`,
      );
    }
  }
}
