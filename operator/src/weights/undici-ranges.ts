// Ranged GETs through undici: the path for networks that reach the Hub through a proxy (HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY, read by undici's EnvHttpProxyAgent). Same contract as RangeClient: bytes of
// [start, end) in order, in pooled slabs placed for direct writes, redirects followed by hand (the first
// hop's headers are the Hub's, the Authorization header stays with the first origin), error statuses as
// HttpStatusError. undici hands over its own chunks, so each byte is copied once into a slab here.
import { EnvHttpProxyAgent, type Dispatcher } from "undici";
import type { IncomingHttpHeaders } from "node:http";
import { DIO_ALIGN } from "./direct-io.ts";
import { HttpStatusError, redactUrl, StallError } from "./errors.ts";
import { Locations } from "./locations.ts";
import {
  checkRangeAnswer,
  MAX_REDIRECTS,
  prematureEnd,
  SLAB,
  SlabPool,
  type HeaderMap,
  type RangeRequest,
  type Ranges,
  type Slab,
} from "./range-client.ts";
import { parseRetryAfter } from "./retry.ts";
import { asError } from "../util/errors.ts";

type Answer = { status: number; headers: HeaderMap };

function flatten(h: IncomingHttpHeaders): HeaderMap {
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v[0]! : v;
  return out;
}

/** The dispatcher the downloader's HTTP goes through: the proxy from the environment, keep-alive, the stall bound. */
export function proxyDispatcher(stallMs: number, connections: number): Dispatcher {
  return new EnvHttpProxyAgent({ connections, headersTimeout: stallMs, bodyTimeout: stallMs });
}

/** Whether the environment names a proxy (the variables curl and undici read, either case). */
export function proxyConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"].some((k) => (env[k] ?? "") !== "");
}

export class UndiciRangeClient implements Ranges {
  private readonly stallMs: number;
  private readonly userAgent: string;
  private readonly slabs: SlabPool;
  private readonly locations: Locations;
  private readonly dispatcher: Dispatcher;

  constructor(opts: {
    stallTimeoutMs: number;
    connections: number;
    userAgent?: string;
    allocate?: (size: number) => Buffer;
    now?: () => number;
    dispatcher?: Dispatcher;
  }) {
    this.stallMs = opts.stallTimeoutMs;
    this.userAgent = opts.userAgent ?? "deepseek-operator-downloader/0.1";
    this.slabs = new SlabPool(32, opts.allocate);
    this.locations = new Locations(opts.now);
    this.dispatcher = opts.dispatcher ?? proxyDispatcher(opts.stallTimeoutMs, opts.connections);
  }

  close(): void {
    void this.dispatcher.destroy().catch(() => undefined);
  }

  fetch(url: string, start: number, end: number, req: RangeRequest): Promise<void> {
    return this.locations.via(url, (from, firstHeaders) => this.follow(url, from, firstHeaders, start, end, req));
  }

  private async follow(
    url: string,
    from: string,
    knownFirstHeaders: HeaderMap | undefined,
    start: number,
    end: number,
    req: RangeRequest,
  ): Promise<void> {
    const origin = new URL(url).origin;
    let current = from;
    let firstHeaders = knownFirstHeaders;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const u = new URL(current);
      const headers: Record<string, string> = {
        "user-agent": this.userAgent,
        "accept-encoding": "identity",
        range: `bytes=${start}-${end - 1}`,
      };
      if (req.token && u.origin === origin) headers.authorization = `Bearer ${req.token}`;
      let redirect: string | undefined;
      await this.exchange(u, headers, start, end, req, (a) => {
        firstHeaders ??= a.headers;
        if ([301, 302, 303, 307, 308].includes(a.status) && a.headers.location) {
          redirect = new URL(a.headers.location, current).toString();
          return "discard";
        }
        if (a.status !== 200 && a.status !== 206)
          throw new HttpStatusError(
            a.status,
            current,
            a.headers["x-error-code"],
            parseRetryAfter(a.headers["retry-after"], Date.now()),
            a.headers["x-error-message"],
          );
        req.onResponse?.({ status: a.status, headers: a.headers, firstHeaders, url: current });
        const te = a.headers["transfer-encoding"];
        if (te && te !== "identity")
          throw new Error(
            `${redactUrl(current)} answered with Transfer-Encoding ${te}; a file body needs a Content-Length`,
          );
        const skip = checkRangeAnswer(a.status, a.headers, current, start, end);
        this.locations.remember(url, current, firstHeaders);
        return skip;
      });
      if (redirect === undefined) return;
      current = redirect;
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`);
  }

  /**
   * One request. `decide` sees the answer's head and returns the bytes to skip before `start` (a 200 for
   * the whole file), or "discard" for a body nobody reads (a redirect's); throwing ends the exchange.
   */
  private exchange(
    u: URL,
    headers: Record<string, string>,
    start: number,
    end: number,
    req: RangeRequest,
    decide: (a: Answer) => number | "discard",
  ): Promise<void> {
    const url = u.toString();
    const pool = this.slabs;
    return new Promise<void>((resolve, reject) => {
      let controller: Dispatcher.DispatchController | undefined;
      let finished = false;
      let discard = false;
      /** A 200 with the whole file goes on past the range: the connection is cut once the range is in. */
      let cutShort = false;
      let skip = 0;
      let offset = start;
      /** The slab being filled: bytes [from, fill) are those of file offset `base` on. */
      let slab: Slab | undefined;
      let from = 0;
      let fill = 0;
      let base = start;
      /** Handed-over slabs wait here while the consumer asks to: onData is called in order, one at a time. */
      const queue: { at: number; slab: Slab; from: number; to: number }[] = [];
      let waiting: Promise<void> | undefined;

      const finish = (err?: Error) => {
        if (finished) return;
        finished = true;
        req.signal?.removeEventListener("abort", onAbort);
        if (slab) pool.retire(slab);
        slab = undefined;
        if (err) {
          // What arrived is handed over first, so a retry starts after it.
          drainQueue();
          (waiting ?? Promise.resolve()).then(
            () => reject(err),
            () => reject(err),
          );
          return;
        }
        // A turn later: undici frees the connection after this callback, and the next request should find it free.
        (waiting ?? Promise.resolve()).then(() => setImmediate(resolve), reject);
      };
      const onAbort = () => {
        const reason = asError(req.signal?.reason ?? new Error("aborted"));
        controller?.abort(reason);
        finish(reason);
      };

      /** `s` already counts this view (taken when it was queued). */
      const deliver = (at: number, s: Slab, a: number, b: number) => {
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          pool.release(s);
        };
        let w: Promise<void> | undefined;
        try {
          w = req.onData(at, s.buf.subarray(a, b), release);
        } catch (err) {
          release();
          throw err;
        }
        if (!w) return;
        controller?.pause();
        waiting = w.then(
          () => {
            waiting = undefined;
            drainQueue();
            if (!waiting && !finished) controller?.resume();
          },
          (err: unknown) => {
            waiting = undefined;
            for (const q of queue.splice(0)) pool.release(q.slab);
            controller?.abort(asError(err));
            finish(asError(err));
            throw err;
          },
        );
        waiting.catch(() => undefined);
      };
      const drainQueue = () => {
        while (!waiting && queue.length > 0) {
          const q = queue.shift()!;
          deliver(q.at, q.slab, q.from, q.to);
        }
      };
      /** Hands over the filled part of the current slab and retires it. */
      const handOver = () => {
        if (!slab) return;
        const s = slab;
        slab = undefined;
        // The view counts from here: a queued slab must not go back to the pool before the consumer saw it.
        if (fill > from) {
          s.refs++;
          queue.push({ at: base, slab: s, from, to: fill });
        }
        pool.retire(s);
        drainQueue();
      };
      const take = () => {
        slab = pool.take(SLAB);
        // Placed so that the slab position and the file offset agree modulo the direct-write alignment.
        from = fill = pool.allocate ? offset % DIO_ALIGN : 0;
        base = offset;
      };

      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
          if (finished) c.abort(new Error("aborted"));
        },
        onResponseStart: (c, status, h) => {
          try {
            const d = decide({ status, headers: flatten(h) });
            if (d === "discard") discard = true;
            else {
              skip = d;
              const length = h["content-length"] === undefined ? Infinity : Number(h["content-length"]);
              cutShort = status === 200 && length > end;
            }
          } catch (err) {
            c.abort(asError(err));
            finish(asError(err));
          }
        },
        onResponseData: (c, chunk) => {
          if (finished || discard) return;
          let data = chunk;
          if (skip > 0) {
            const s = Math.min(skip, data.length);
            skip -= s;
            data = data.subarray(s);
          }
          data = data.subarray(0, Math.max(0, end - offset));
          while (data.length > 0) {
            if (!slab) take();
            const n = Math.min(data.length, slab!.buf.length - fill);
            data.copy(slab!.buf, fill, 0, n);
            fill += n;
            offset += n;
            data = data.subarray(n);
            if (fill === slab!.buf.length) handOver();
          }
          if (offset >= end && cutShort) {
            handOver();
            finish();
            c.abort(new Error("range complete"));
          }
        },
        onResponseEnd: () => {
          if (finished) return;
          handOver();
          if (discard) return finish();
          finish(offset < end ? prematureEnd(url, offset - start, end - start) : undefined);
        },
        onResponseError: (_c, err) => {
          if (finished) return;
          handOver();
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT")
            return finish(new StallError(url, this.stallMs / 1000));
          if (offset > start && offset < end) return finish(prematureEnd(url, offset - start, end - start, err));
          finish(err);
        },
      };
      if (req.signal?.aborted) return onAbort();
      req.signal?.addEventListener("abort", onAbort, { once: true });
      this.dispatcher.dispatch({ origin: u.origin, path: `${u.pathname}${u.search}`, method: "GET", headers }, handler);
    });
  }
}
