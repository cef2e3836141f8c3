// A small HTTP client for the downloader's listings and checks, on undici: keep-alive, the proxy from the
// environment (HTTPS_PROXY, NO_PROXY), redirects followed by hand (the Authorization header is dropped when a
// redirect leaves the origin, as the Hub's LFS redirects to a CDN do), a stall watchdog on the wait for
// headers, and error statuses turned into HttpStatusError.
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { request as undiciRequest, type Dispatcher } from "undici";
import { HttpStatusError, redactUrl, StallError } from "./errors.ts";
import { parseRetryAfter } from "./retry.ts";
import { proxyDispatcher } from "./undici-ranges.ts";

/**
 * `firstHeaders` are those of the first hop: the Hub puts X-Linked-Size/Etag on its redirect, not on the CDN's
 * answer.
 */
export type Response = {
  status: number;
  headers: IncomingHttpHeaders;
  firstHeaders: IncomingHttpHeaders;
  body: Readable;
  url: string;
};

export type RequestOptions = {
  method?: "GET" | "HEAD";
  headers?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>` to the first origin only. */
  token?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Statuses handed back instead of thrown (e.g. 200 and 206 for a ranged GET). */
  accept?: readonly number[];
};

const MAX_REDIRECTS = 5;

/** A watchdog that fires when `touch` was not called for `ms`. */
export function stallWatch(ms: number, onStall: () => void): { touch(): void; stop(): void } {
  const timer = setTimeout(onStall, ms);
  return { touch: () => timer.refresh(), stop: () => clearTimeout(timer) };
}

export class HttpClient {
  private readonly stallTimeoutMs: number;
  private readonly userAgent: string;
  private readonly dispatcher: Dispatcher;

  constructor(opts: { stallTimeoutMs: number; maxSockets: number; userAgent?: string }) {
    this.stallTimeoutMs = opts.stallTimeoutMs;
    this.userAgent = opts.userAgent ?? "deepseek-operator-downloader/0.1";
    this.dispatcher = proxyDispatcher(opts.stallTimeoutMs, opts.maxSockets);
  }

  get stallSeconds(): number {
    return this.stallTimeoutMs / 1000;
  }

  close(): void {
    void this.dispatcher.destroy().catch(() => undefined);
  }

  async request(url: string, opts: RequestOptions = {}): Promise<Response> {
    const origin = new URL(url).origin;
    let current = url;
    let firstHeaders: IncomingHttpHeaders | undefined;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = new URL(current).origin === origin;
      const headers: Record<string, string> = {
        "user-agent": this.userAgent,
        "accept-encoding": "identity",
        ...opts.headers,
      };
      if (opts.token && sameOrigin) headers.authorization = `Bearer ${opts.token}`;
      const res = await this.once(current, opts.method ?? "GET", headers, opts.signal);
      const status = res.statusCode;
      firstHeaders ??= res.headers;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && typeof location === "string") {
        res.body.resume();
        current = new URL(location, current).toString();
        continue;
      }
      const accept = opts.accept ?? [200];
      if (accept.includes(status)) return { status, headers: res.headers, firstHeaders, body: res.body, url: current };
      throw await statusError(res, current);
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`);
  }

  /** GET a JSON document; also returns the headers (pagination lives in Link). */
  async getJson<T>(url: string, opts: RequestOptions = {}): Promise<{ json: T; headers: IncomingHttpHeaders }> {
    const res = await this.request(url, { ...opts, headers: { accept: "application/json", ...opts.headers } });
    const text = await readBody(res.body, this.stallTimeoutMs, res.url);
    try {
      return { json: JSON.parse(text) as T, headers: res.headers };
    } catch (err) {
      throw new Error(`invalid JSON from ${redactUrl(res.url)}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async once(
    url: string,
    method: "GET" | "HEAD",
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Dispatcher.ResponseData> {
    const u = new URL(url);
    if (u.protocol !== "https:" && u.protocol !== "http:")
      throw new Error(`unsupported URL scheme in ${redactUrl(url)}`);
    try {
      return await undiciRequest(u, { method, headers, signal, dispatcher: this.dispatcher });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "UND_ERR_HEADERS_TIMEOUT")
        throw new StallError(url, this.stallTimeoutMs / 1000);
      throw err;
    }
  }
}

/** Reads a whole (small) body as text, with the stall watchdog. */
export async function readBody(
  body: Readable,
  stallMs: number,
  url: string,
  limit = 64 * 1024 * 1024,
): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  const watch = stallWatch(stallMs, () => body.destroy(new StallError(url, stallMs / 1000)));
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      watch.touch();
      total += chunk.length;
      if (total > limit) throw new Error(`response from ${redactUrl(url)} is larger than ${limit} bytes`);
      chunks.push(chunk);
    }
  } finally {
    watch.stop();
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function statusError(res: Dispatcher.ResponseData, url: string): Promise<HttpStatusError> {
  const header = (name: string): string | undefined => {
    const v = res.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  let detail = header("x-error-message");
  // A short look at the body helps the message; never wait long for it.
  const chunks: Buffer[] = [];
  let size = 0;
  const body = res.body;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      body.destroy();
      done();
    }, 2000);
    body.on("data", (c: Buffer) => {
      if (size < 2048) chunks.push(c);
      size += c.length;
    });
    body.once("end", done);
    body.once("error", done);
    body.once("close", done);
  });
  if (!detail) {
    const text = Buffer.concat(chunks).toString("utf8").slice(0, 300).trim();
    if (text) {
      try {
        const j = JSON.parse(text) as { error?: unknown };
        detail = typeof j.error === "string" ? j.error : text;
      } catch {
        detail = text;
      }
    }
  }
  return new HttpStatusError(
    res.statusCode,
    url,
    header("x-error-code"),
    parseRetryAfter(header("retry-after"), Date.now()),
    detail,
  );
}
