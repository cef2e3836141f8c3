// A local stand-in for the Hugging Face Hub: the part of its HTTP API the downloader uses, with faults
// on demand. Routes:
//   GET  /api/models/{org}/{name}/revision/{rev}        → {id, sha, siblings}
//   GET  /api/models/{org}/{name}/tree/{rev}?recursive=  → [{type, path, size, oid, lfs?}], paged by Link
//   GET|HEAD /{org}/{name}/resolve/{rev}/{path}         → small files inline; LFS files redirect (302) to
//        a second "CDN" origin with X-Repo-Commit, X-Linked-Etag and X-Linked-Size, as the Hub does
//   GET|HEAD /plain/{org}/{name}/{rev}/{path|SHA256SUMS} → the same files as a plain folder + manifest
//   POST /_sim/faults (a Fault or a list), DELETE /_sim/faults, GET /_sim/stats: control from other processes
// Content ranges (Range: bytes=a-b, a-, -n) answer 206 with Content-Range.
import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { FileContent, digestOf } from "./content.ts";
import { FaultSet, type Fault, type Route } from "./faults.ts";
import type { SimRepo } from "./repo.ts";
import { compareStrings } from "../../util/compare.ts";

export type HubServerOptions = {
  repos: SimRepo[];
  /** Content seed: same seed, same bytes. */
  seed?: string;
  /** When set, the API and resolve routes require `Authorization: Bearer <token>`. */
  token?: string;
  host?: string;
  port?: number;
  /** Tree entries per page (the real Hub pages large repos too). */
  pageSize?: number;
  /** Redirect LFS downloads to a second origin (default true), like the Hub's CDN redirect. */
  redirectLfs?: boolean;
  chunkSize?: number;
};

export type RequestLogEntry = {
  origin: "hub" | "cdn";
  method: string;
  path: string;
  route: Route | "control" | "unknown";
  status: number;
  file?: string;
  rangeStart?: number;
  rangeEnd?: number;
  bytesSent: number;
  /** Whether an Authorization header came with the request. */
  authorization: boolean;
  fault?: string;
};

export type ListedFile = { path: string; size: number; sha256: string | null; gitOid: string; lfs: boolean };

export type HubServer = {
  url: string;
  cdnUrl: string | undefined;
  requestLog: RequestLogEntry[];
  setFault(f: Fault): void;
  clearFaults(): void;
  /** Body bytes sent, for one file or all. */
  bytesServed(path?: string): number;
  listing(repoId: string): ListedFile[];
  /** Base URL of the plain-folder view of a repo (for `--base-url`). */
  plainUrl(repoId: string, revision?: string): string;
  close(): Promise<void>;
};

/** `contentSha256` is known for every file; the listing shows a sha256 only for LFS files, as the Hub does. */
type PreparedFile = ListedFile & { content: FileContent; contentSha256: string };
type PreparedRepo = { repo: SimRepo; files: Map<string, PreparedFile>; bySha: Map<string, PreparedFile> };

const PAGE_SIZE = 1000;

function prepare(repo: SimRepo, seed: string): PreparedRepo {
  const files = new Map<string, PreparedFile>();
  const bySha = new Map<string, PreparedFile>();
  for (const spec of repo.files) {
    const content = new FileContent(seed, spec.path, spec.content);
    const prefixId =
      spec.content.kind === "inline" ? spec.content.bytes.toString("base64") : spec.content.prefix.toString("base64");
    const d = digestOf(seed, content, prefixId);
    const f: PreparedFile = {
      path: spec.path,
      size: content.size,
      sha256: spec.lfs ? d.sha256 : null,
      gitOid: d.gitOid,
      lfs: spec.lfs,
      content,
      contentSha256: d.sha256,
    };
    files.set(spec.path, f);
    bySha.set(d.sha256, f);
  }
  return { repo, files, bySha };
}

/** Parses a single-range Range header against `size`: [start, end), "unsatisfiable", or undefined (whole). */
export function parseRange(
  h: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  if (!h) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size : Math.min(size, Number(m[2]) + 1);
  if (start >= size || end <= start) return "unsatisfiable";
  return { start, end };
}

export async function startHubServer(opts: HubServerOptions): Promise<HubServer> {
  const seed = opts.seed ?? "deepseek-operator";
  const host = opts.host ?? "127.0.0.1";
  const pageSize = opts.pageSize ?? PAGE_SIZE;
  const chunkSize = opts.chunkSize ?? 1024 * 1024;
  const redirectLfs = opts.redirectLfs ?? true;
  const signingKey = randomBytes(16);
  const repos = new Map(opts.repos.map((r) => [r.id, prepare(r, seed)]));
  const faults = new FaultSet();
  const requestLog: RequestLogEntry[] = [];
  let hubUrl = "";
  let cdnUrl: string | undefined;

  const sign = (sha: string) => createHmac("sha256", signingKey).update(sha).digest("hex").slice(0, 32);

  const sendError = (
    res: http.ServerResponse,
    status: number,
    message: string,
    errorCode?: string,
    retryAfter?: number,
  ) => {
    const headers: Record<string, string | number> = { "content-type": "application/json", "x-error-message": message };
    if (errorCode) headers["x-error-code"] = errorCode;
    if (retryAfter !== undefined) headers["retry-after"] = retryAfter;
    const body = JSON.stringify({ error: message });
    headers["content-length"] = Buffer.byteLength(body);
    res.writeHead(status, headers);
    res.end(body);
  };

  const sendJson = (res: http.ServerResponse, value: unknown, extra: Record<string, string> = {}) => {
    const body = JSON.stringify(value);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...extra });
    res.end(body);
  };

  /** Streams bytes of `f` with Range support and the content faults; returns the body bytes sent. */
  const serveContent = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    f: PreparedFile,
    entry: RequestLogEntry,
    extra: Record<string, string>,
  ) => {
    const range = parseRange(req.headers.range, f.size);
    if (range === "unsatisfiable") {
      res.writeHead(416, { "content-range": `bytes */${f.size}`, "content-length": 0 });
      res.end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? f.size;
    entry.rangeStart = start;
    entry.rangeEnd = end;
    const headers: Record<string, string | number> = {
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
      "content-length": end - start,
      etag: `"${f.sha256 ?? f.gitOid}"`,
      ...extra,
    };
    if (range) headers["content-range"] = `bytes ${start}-${end - 1}/${f.size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const plan = faults.takeContent(f.path, start, end);
    const faultNames = [
      plan.cut ? `${plan.cut}@${plan.cutAt}` : "",
      ...plan.corrupt.map((c) => `corrupt@${c.offset}+${c.length}`),
      plan.rate ? `rate ${plan.rate}` : "",
    ].filter(Boolean);
    if (faultNames.length) entry.fault = faultNames.join(",");
    const stopAt = plan.cutAt ?? end;
    const step = plan.rate ? Math.max(1024, Math.min(chunkSize, Math.floor(plan.rate / 20))) : chunkSize;
    const t0 = Date.now();
    let offset = start;
    let closed = false;
    res.once("close", () => {
      closed = true;
    });
    for (const chunk of f.content.chunks(start, stopAt, step)) {
      if (closed) return;
      for (const c of plan.corrupt) {
        const from = Math.max(c.offset, offset);
        const to = Math.min(c.offset + c.length, offset + chunk.length);
        for (let i = from; i < to; i++) chunk[i - offset] = chunk[i - offset]! ^ 0xff;
      }
      const ok = res.write(chunk);
      entry.bytesSent += chunk.length;
      offset += chunk.length;
      if (!ok && !closed)
        await new Promise<void>((r) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            r();
          };
          res.on("drain", done);
          res.on("close", done);
        });
      if (plan.rate) {
        const due = t0 + ((offset - start) / plan.rate) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
      }
    }
    if (closed) return;
    if (plan.cut === "drop") {
      // Let the bytes before the cut reach the socket, then cut it: the client sees a short body.
      await new Promise<void>((r) => res.write(Buffer.alloc(0), () => r()));
      res.socket?.destroy();
      return;
    }
    if (plan.cut === "stall") {
      await new Promise<void>((r) => (closed ? r() : res.once("close", () => r())));
      return;
    }
    res.end();
  };

  const authorized = (req: http.IncomingMessage) => !opts.token || req.headers.authorization === `Bearer ${opts.token}`;

  const denyIfUnauthorized = (req: http.IncomingMessage, res: http.ServerResponse, repoId: string): boolean => {
    if (authorized(req)) return false;
    const msg = req.headers.authorization
      ? "Invalid credentials in Authorization header"
      : `Access to model ${repoId} is restricted. You must be authenticated to access it.`;
    sendError(res, 401, msg);
    return true;
  };

  const lookup = (res: http.ServerResponse, org: string, name: string, rev: string): PreparedRepo | undefined => {
    const id = `${org}/${name}`;
    const r = repos.get(id);
    if (!r) {
      sendError(res, 404, "Repository not found", "RepoNotFound");
      return undefined;
    }
    if (rev !== r.repo.revision && rev !== "main") {
      sendError(res, 404, `Invalid rev id: ${rev}`, "RevisionNotFound");
      return undefined;
    }
    return r;
  };

  const statusFault = (
    res: http.ServerResponse,
    route: Route,
    path: string | undefined,
    entry: RequestLogEntry,
  ): boolean => {
    const f = faults.takeStatus(route, path);
    if (!f) return false;
    entry.fault = `status ${f.status}`;
    const code = f.errorCode ?? (f.status === 404 ? "RepoNotFound" : undefined);
    sendError(res, f.status, `injected ${f.status}`, code, f.retryAfter);
    return true;
  };

  const handleHub = async (req: http.IncomingMessage, res: http.ServerResponse, entry: RequestLogEntry) => {
    const u = new URL(req.url ?? "/", "http://x");
    const seg = u.pathname.split("/").slice(1).map(decodeURIComponent);
    // Control routes for tests and benches running the simulator in another process.
    if (seg[0] === "_sim") {
      entry.route = "control";
      if (seg[1] === "faults" && req.method === "POST") {
        const chunks: Buffer[] = [];
        for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Fault | Fault[];
        for (const f of Array.isArray(body) ? body : [body]) faults.add(f);
        return sendJson(res, { faults: faults.list() });
      }
      if (seg[1] === "faults" && req.method === "DELETE") {
        faults.clear();
        return sendJson(res, { faults: [] });
      }
      if (seg[1] === "stats")
        return sendJson(res, { bytesServed: bytesServed(), requests: requestLog.length, byFile: byFile() });
      return sendError(res, 404, "unknown control route");
    }
    if (seg[0] === "api" && seg[1] === "models" && seg.length >= 6) {
      const [, , org, name, kind, rev, ...rest] = seg as [string, string, string, string, string, string, ...string[]];
      entry.route = kind === "revision" ? "revision" : kind === "tree" ? "tree" : "unknown";
      if (entry.route === "unknown") return sendError(res, 404, "unknown API route");
      if (denyIfUnauthorized(req, res, `${org}/${name}`)) return;
      if (statusFault(res, entry.route, undefined, entry)) return;
      const r = lookup(res, org, name, rev);
      if (!r) return;
      const all = [...r.files.values()].sort((a, b) => compareStrings(a.path, b.path));
      if (kind === "revision") {
        return sendJson(res, {
          id: r.repo.id,
          modelId: r.repo.id,
          sha: r.repo.revision,
          siblings: all.map((f) => ({ rfilename: f.path })),
        });
      }
      const prefix = rest.join("/");
      const recursive = u.searchParams.get("recursive") === "true" || u.searchParams.get("recursive") === "True";
      const entries = treeEntries(all, prefix, recursive);
      const cursor = Number(u.searchParams.get("cursor") ?? "0");
      const page = entries.slice(cursor, cursor + pageSize);
      const extra: Record<string, string> = {};
      if (cursor + pageSize < entries.length) {
        const next = new URL(`${hubUrl}${u.pathname}`);
        next.searchParams.set("recursive", String(recursive));
        next.searchParams.set("cursor", String(cursor + pageSize));
        extra.link = `<${next.toString()}>; rel="next"`;
      }
      return sendJson(res, page, extra);
    }
    if (seg[0] === "plain" && seg.length >= 5) {
      const [, org, name, rev, ...rest] = seg as [string, string, string, string, ...string[]];
      entry.route = "plain";
      if (denyIfUnauthorized(req, res, `${org}/${name}`)) return;
      const path = rest.join("/");
      if (statusFault(res, "plain", path, entry)) return;
      const r = lookup(res, org, name, rev);
      if (!r) return;
      if (path === "SHA256SUMS") {
        const lines = [...r.files.values()]
          .sort((a, b) => compareStrings(a.path, b.path))
          .map((f) => `${f.contentSha256}  ${f.path}`);
        const body = Buffer.from(lines.join("\n") + "\n");
        res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
        return res.end(req.method === "HEAD" ? undefined : body);
      }
      const f = r.files.get(path);
      if (!f) return sendError(res, 404, "Entry not found", "EntryNotFound");
      entry.file = f.path;
      return serveContent(req, res, f, entry, {});
    }
    if (seg.length >= 5 && seg[2] === "resolve") {
      const [org, name, , rev, ...rest] = seg as [string, string, string, string, ...string[]];
      entry.route = "resolve";
      if (denyIfUnauthorized(req, res, `${org}/${name}`)) return;
      const path = rest.join("/");
      if (statusFault(res, "resolve", path, entry)) return;
      const r = lookup(res, org, name, rev);
      if (!r) return;
      const f = r.files.get(path);
      if (!f) return sendError(res, 404, "Entry not found", "EntryNotFound");
      entry.file = f.path;
      const commit = { "x-repo-commit": r.repo.revision };
      if (f.lfs && f.sha256 && cdnUrl) {
        res.writeHead(302, {
          location: `${cdnUrl}/lfs/${org}/${name}/${f.sha256}?sig=${sign(f.sha256)}`,
          "x-repo-commit": r.repo.revision,
          "x-linked-etag": `"${f.sha256}"`,
          "x-linked-size": f.size,
          "content-length": 0,
        });
        return res.end();
      }
      const linked: Record<string, string> =
        f.lfs && f.sha256 ? { "x-linked-etag": `"${f.sha256}"`, "x-linked-size": String(f.size) } : {};
      return serveContent(req, res, f, entry, { ...commit, ...linked });
    }
    sendError(res, 404, "Not found");
  };

  const handleCdn = async (req: http.IncomingMessage, res: http.ServerResponse, entry: RequestLogEntry) => {
    const u = new URL(req.url ?? "/", "http://x");
    const seg = u.pathname.split("/").slice(1).map(decodeURIComponent);
    entry.route = "cdn";
    if (seg[0] !== "lfs" || seg.length !== 4) return sendError(res, 404, "Not found");
    const [, org, name, sha] = seg as [string, string, string, string];
    if (u.searchParams.get("sig") !== sign(sha))
      return sendError(res, 403, "Request has expired or the signature is invalid");
    const r = repos.get(`${org}/${name}`);
    const f = r?.bySha.get(sha);
    if (!f) return sendError(res, 404, "Not found");
    entry.file = f.path;
    if (statusFault(res, "cdn", f.path, entry)) return;
    return serveContent(req, res, f, entry, {});
  };

  const bytesServed = (path?: string) =>
    requestLog.reduce((a, e) => a + (path === undefined || e.file === path ? e.bytesSent : 0), 0);
  const byFile = () => {
    const out: Record<string, number> = {};
    for (const e of requestLog) if (e.file) out[e.file] = (out[e.file] ?? 0) + e.bytesSent;
    return out;
  };

  const makeServer = (origin: "hub" | "cdn", handler: typeof handleHub) =>
    http.createServer((req, res) => {
      const entry: RequestLogEntry = {
        origin,
        method: req.method ?? "GET",
        path: req.url ?? "/",
        route: "unknown",
        status: 0,
        bytesSent: 0,
        authorization: req.headers.authorization !== undefined,
      };
      requestLog.push(entry);
      res.once("close", () => {
        entry.status = res.statusCode;
      });
      handler(req, res, entry).catch((err: Error) => {
        if (!res.headersSent) sendError(res, 500, err.message);
        else res.destroy();
      });
    });

  const listen = (s: http.Server, port: number) =>
    new Promise<string>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, host, () => {
        const a = s.address() as AddressInfo;
        resolve(`http://${host}:${a.port}`);
      });
    });

  const hub = makeServer("hub", handleHub);
  hubUrl = await listen(hub, opts.port ?? 0);
  let cdn: http.Server | undefined;
  if (redirectLfs) {
    cdn = makeServer("cdn", handleCdn);
    cdnUrl = await listen(cdn, 0);
  }

  const closeServer = (s: http.Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });

  return {
    url: hubUrl,
    cdnUrl,
    requestLog,
    setFault: (f) => faults.add(f),
    clearFaults: () => faults.clear(),
    bytesServed,
    listing: (id) => {
      const r = repos.get(id);
      if (!r) throw new Error(`no simulated repo ${id}`);
      return [...r.files.values()]
        .map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, gitOid: f.gitOid, lfs: f.lfs }))
        .sort((a, b) => compareStrings(a.path, b.path));
    },
    plainUrl: (id, revision) => `${hubUrl}/plain/${id}/${revision ?? repos.get(id)?.repo.revision ?? "main"}`,
    close: async () => {
      await Promise.all([closeServer(hub), cdn ? closeServer(cdn) : Promise.resolve()]);
    },
  };
}

/** Tree entries under `prefix`: files, and the directories on their paths (the API lists both). */
function treeEntries(files: PreparedFile[], prefix: string, recursive: boolean): unknown[] {
  const base = prefix ? `${prefix}/` : "";
  const out: unknown[] = [];
  const dirs = new Set<string>();
  for (const f of files) {
    if (!f.path.startsWith(base)) continue;
    const rest = f.path.slice(base.length);
    const parts = rest.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = base + parts.slice(0, i).join("/");
      if (!dirs.has(d) && (recursive || i === 1)) {
        dirs.add(d);
        out.push({ type: "directory", oid: "0".repeat(40), size: 0, path: d });
      }
    }
    if (!recursive && parts.length > 1) continue;
    const e: Record<string, unknown> = { type: "file", oid: f.gitOid, size: f.size, path: f.path };
    if (f.lfs && f.sha256) e.lfs = { oid: f.sha256, size: f.size, pointerSize: 134 };
    out.push(e);
  }
  return out;
}
