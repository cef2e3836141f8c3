// A plain HTTP(S) folder as a source, for mirrors that are not a Hub API (an object store, nginx).
// The folder serves `SHA256SUMS` in `sha256sum` output format ("<hex>  <path>" or "<hex> *<path>", one
// file per line) and every listed file at `<base>/<path>`; sizes come from HEAD (Content-Length).
// Make one with: cd weights && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum > SHA256SUMS
import { WeightsError } from "./errors.ts";
import type { HttpClient } from "./http.ts";
import { safeRelativePath } from "./layout.ts";
import { encodePath, headerValue, type Listing, type RemoteFile, type Source, type TransferHeaders } from "./source.ts";
import { compareStrings } from "../util/compare.ts";

export const MANIFEST_NAME = "SHA256SUMS";

/** Parses `sha256sum` output into path → sha256. Blank lines and # comments are skipped. */
export function parseSha256Sums(text: string): { path: string; sha256: string }[] {
  const out: { path: string; sha256: string }[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "" || line.startsWith("#")) return;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m)
      throw new Error(
        `${MANIFEST_NAME} line ${i + 1} is not "<sha256>  <path>": ${JSON.stringify(line.slice(0, 120))}`,
      );
    const path = safeRelativePath(m[2]!.replace(/^\.\//, ""));
    if (seen.has(path)) throw new Error(`${MANIFEST_NAME} lists ${path} twice`);
    seen.add(path);
    out.push({ path, sha256: m[1]!.toLowerCase() });
  });
  return out;
}

export class UrlSource implements Source {
  readonly kind = "url" as const;
  readonly description: string;
  readonly token: string | undefined;
  private readonly base: string;
  private readonly http: HttpClient;

  constructor(opts: { baseUrl: string; token: string | undefined; http: HttpClient }) {
    this.base = opts.baseUrl.replace(/\/+$/, "");
    this.token = opts.token;
    this.http = opts.http;
    this.description = this.base;
  }

  async list(signal?: AbortSignal): Promise<Listing> {
    const res = await this.http.request(`${this.base}/${MANIFEST_NAME}`, { token: this.token, signal });
    const chunks: Buffer[] = [];
    for await (const c of res.body as AsyncIterable<Buffer>) chunks.push(c);
    const entries = parseSha256Sums(Buffer.concat(chunks).toString("utf8"));
    const files = new Array<RemoteFile>(entries.length);
    // A few HEADs at a time: thousands at once would look like an attack to a small server.
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < entries.length; i = next++) {
        const e = entries[i]!;
        const url = `${this.base}/${encodePath(e.path)}`;
        const head = await this.http.request(url, { method: "HEAD", token: this.token, signal });
        head.body.resume();
        const len = headerValue(head.headers, "content-length");
        if (len === undefined || !/^\d+$/.test(len)) throw new Error(`HEAD ${url} gave no Content-Length`);
        files[i] = { path: e.path, size: Number(len), sha256: e.sha256, gitOid: null, url };
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, entries.length) }, worker));
    return { commit: null, files: files.sort((a, b) => compareStrings(a.path, b.path)) };
  }

  checkTransfer(file: RemoteFile, headers: TransferHeaders): void {
    const range = headerValue(headers.final, "content-range");
    const total = range ? /\/(\d+)$/.exec(range)?.[1] : undefined;
    if (total !== undefined && Number(total) !== file.size) {
      throw new WeightsError(
        "ChecksumMismatch",
        `${file.path}: the server now has ${total} bytes, HEAD said ${file.size}`,
      );
    }
  }
}
