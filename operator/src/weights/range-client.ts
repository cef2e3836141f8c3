// The byte mover: ranged GETs over keep-alive HTTP/1.1 connections that read straight into pooled slabs
// (net/tls `onread`), so the kernel copies socket bytes once into memory that goes to the hasher and to
// disk as is (with aligned slabs, placed so that whole slabs can be written with O_DIRECT). An HTTP library
// copies each chunk at least once more: undici's client (undici-ranges.ts, the path behind a proxy) moves
// 0.62 of this one's rate at twice the CPU (docs/weights.md, Bench); on a busy node that CPU is the download
// rate. Only what a file transfer needs is spoken: Content-Length bodies, redirects (Authorization dropped
// when the origin changes), error statuses as HttpStatusError. Listings and other small requests go through
// undici (http.ts).
import net from "node:net";
import type { ConnectionOptions } from "node:tls";
import { DIO_ALIGN, mod } from "./direct-io.ts";
import { HttpStatusError, redactUrl, StallError } from "./errors.ts";
import { Locations } from "./locations.ts";
import { parseRetryAfter } from "./retry.ts";
import { asError } from "../util/errors.ts";

export type HeaderMap = Record<string, string>;

/** What a transfer needs from a range client (this one, or UndiciRangeClient behind a proxy). */
export interface Ranges {
  fetch(url: string, start: number, end: number, req: RangeRequest): Promise<void>;
  close(): void;
}

export type RangeResponse = { status: number; headers: HeaderMap; firstHeaders: HeaderMap; url: string };

export type RangeRequest = {
  token?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Called once with the answer that carries the bytes; throwing aborts the transfer. */
  onResponse?: (r: RangeResponse) => void;
  /**
   * Bytes of the file at `offset`, in order. A returned promise pauses the socket until it settles.
   * `buf` lives in a pooled slab: call `release` exactly once when nothing reads it any more (after it
   * is written); until then its bytes stay as they are.
   */
  onData: (offset: number, buf: Buffer, release: () => void) => Promise<void> | undefined;
};

/**
 * Slab size: one direct write each (bigger writes keep the device busier per request) and one hash
 * message each.
 */
export const SLAB = 4 * 1024 * 1024;
/** Below this much room left in a slab, the next read goes to a new slab. */
const MIN_READ = 64 * 1024;
const MAX_HEAD = 64 * 1024;
/**
 * Read size between bodies on aligned slabs: the body bytes that come with a response head land at a
 * position unrelated to their file offset and are moved once the body starts, so keep them few.
 */
const HEAD_READ = 16 * 1024;
export const MAX_REDIRECTS = 5;
const MAX_IDLE_PER_ORIGIN = 16;

type Head = { status: number; headers: HeaderMap };

/**
 * A slab and the views of it handed to consumers. It goes back to the pool only when the connection has
 * moved on to another slab (no read can land in it) and every view was released. Reuse saves allocating
 * and collecting a slab per slab received: about a fifth of the downloader's user CPU in bench/weights.ts.
 */
export type Slab = { buf: Buffer; refs: number; retired: boolean };

/** Free standard-size slabs, shared by the connections of one client. */
export class SlabPool {
  private readonly free: Buffer[] = [];
  private readonly max: number;
  /** Allocates standard slabs with aligned addresses (for direct writes), when set. */
  readonly allocate: ((size: number) => Buffer) | undefined;
  constructor(max: number, allocate?: (size: number) => Buffer) {
    this.max = max;
    this.allocate = allocate;
  }
  take(size: number): Slab {
    const buf = size === SLAB ? (this.free.pop() ?? this.allocate?.(SLAB)) : undefined;
    return { buf: buf ?? Buffer.allocUnsafe(size), refs: 0, retired: false };
  }
  /** Retires `s`: pooled once its last view is released. */
  retire(s: Slab): void {
    s.retired = true;
    this.maybeFree(s);
  }
  /** A view of `s` is no longer used. */
  release(s: Slab): void {
    s.refs--;
    this.maybeFree(s);
  }
  private maybeFree(s: Slab): void {
    if (s.retired && s.refs === 0 && s.buf.length === SLAB && this.free.length < this.max) this.free.push(s.buf);
  }
}

/** One keep-alive connection. Reads land in `slab`; whoever runs the current exchange consumes them. */
class Conn {
  readonly socket: net.Socket;
  readonly origin: string;
  private readonly pool: SlabPool;
  current: Slab;
  slab: Buffer;
  fill = 0;
  consumed = 0;
  /** Set by the exchange in progress: called after each read; returns false to pause reading. */
  onBytes: (() => boolean) | undefined;
  onEnd: ((err: Error) => void) | undefined;
  closed = false;
  reused = false;
  /**
   * While a body streams: the file offset of position 0 of the current slab. With aligned slabs, every
   * slab is placed so that position ≡ file offset (mod DIO_ALIGN), which lets whole slabs be written
   * directly; undefined between bodies.
   */
  fileBase: number | undefined;

  constructor(u: URL, pool: SlabPool) {
    this.origin = u.origin;
    this.pool = pool;
    this.current = pool.take(SLAB);
    this.slab = this.current.buf;
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    // The slab only ever changes here, where the next read's target is chosen: a read already aimed at
    // the tail of a slab lands there, and views handed to the consumer cover bytes before `fill` only.
    const onread = {
      buffer: () => {
        if (this.slab.length - this.fill < this.minRoom || this.misplaced()) this.rotate();
        if (this.pool.allocate && this.fileBase === undefined)
          return this.slab.subarray(this.fill, this.fill + HEAD_READ);
        return this.slab.subarray(this.fill);
      },
      callback: (n: number) => {
        this.fill += n;
        return this.onBytes ? this.onBytes() : true;
      },
    };
    this.socket =
      u.protocol === "https:"
        ? // Loaded at the first https: connection: TLS costs a plain-HTTP mirror 20 ms at every start.
          process.getBuiltinModule("node:tls").connect({
            host: u.hostname,
            port,
            servername: net.isIP(u.hostname) ? undefined : u.hostname,
            ALPNProtocols: ["http/1.1"],
            onread,
          } as ConnectionOptions)
        : net.connect({ host: u.hostname, port, onread } as net.NetConnectOpts);
    this.socket.setNoDelay(true);
    const end = (err: Error) => {
      this.closed = true;
      this.onEnd?.(err);
    };
    this.socket.on("error", end);
    this.socket.on("close", () => {
      const err = new Error(`connection to ${this.origin} closed`) as NodeJS.ErrnoException;
      err.code = "ERR_STREAM_PREMATURE_CLOSE";
      end(err);
    });
  }

  /**
   * Room below which the next read goes to a new slab. Aligned slabs are filled to the last byte, so
   * the next one starts on an aligned file offset; otherwise a read into a small tail is not worth it.
   */
  get minRoom(): number {
    return this.pool.allocate ? 1 : MIN_READ;
  }

  /** A body started at a slab position that does not match its file offset (mod DIO_ALIGN). */
  private misplaced(): boolean {
    return this.pool.allocate !== undefined && this.fileBase !== undefined && mod(this.fileBase, DIO_ALIGN) !== 0;
  }

  /**
   * Starts a new slab, carrying over bytes not consumed yet: at the position congruent to their file
   * offset while a body streams, so direct writes can take them. Only the read-target generator calls it.
   */
  private rotate(): void {
    const pending = this.slab.subarray(this.consumed, this.fill);
    const at = this.pool.allocate && this.fileBase !== undefined ? mod(this.fileBase + this.consumed, DIO_ALIGN) : 0;
    const need = at + pending.length + MIN_READ;
    const next = this.pool.take(need <= SLAB ? SLAB : need);
    pending.copy(next.buf, at);
    this.pool.retire(this.current);
    if (this.fileBase !== undefined) this.fileBase += this.consumed - at;
    this.current = next;
    this.slab = next.buf;
    this.fill = at + pending.length;
    this.consumed = at;
  }

  /** A view of the current slab for a consumer, with its release. */
  lend(from: number, to: number): { view: Buffer; release: () => void } {
    const slab = this.current;
    slab.refs++;
    let released = false;
    return {
      view: slab.buf.subarray(from, to),
      release: () => {
        if (released) return;
        released = true;
        this.pool.release(slab);
      },
    };
  }

  /** The slab of a closed socket is never pooled: no proof that no read is still aimed at it. */
  destroy(err?: Error): void {
    this.closed = true;
    this.socket.destroy(err);
  }
}

function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!m) throw new Error(`not an HTTP/1.1 response: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`);
  const headers: HeaderMap = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    if (!(k in headers)) headers[k] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers };
}

/**
 * The bytes to skip before `start` in a 200 or 206 answer to a ranged GET: none when the server honoured
 * the range, `start` when it sent the whole file. Throws on a Content-Range for other bytes.
 */
export function checkRangeAnswer(status: number, h: HeaderMap, url: string, start: number, end: number): number {
  if (status !== 206) return start;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(h["content-range"] ?? "");
  if (!m || Number(m[1]) !== start)
    throw new Error(
      `${redactUrl(url)}: asked for bytes ${start}-${end - 1}, got Content-Range ${JSON.stringify(h["content-range"])}`,
    );
  return 0;
}

export class RangeClient implements Ranges {
  private readonly stallMs: number;
  private readonly userAgent: string;
  private readonly idle = new Map<string, Conn[]>();
  private readonly slabs: SlabPool;
  private readonly locations: Locations;

  /** `allocate`: aligned slab memory (DirectIo.allocate), so the consumer can write slabs directly. */
  constructor(opts: {
    stallTimeoutMs: number;
    userAgent?: string;
    allocate?: (size: number) => Buffer;
    now?: () => number;
  }) {
    this.stallMs = opts.stallTimeoutMs;
    this.userAgent = opts.userAgent ?? "deepseek-operator-downloader/0.1";
    this.slabs = new SlabPool(32, opts.allocate);
    this.locations = new Locations(opts.now);
  }

  close(): void {
    for (const list of this.idle.values()) for (const c of list) c.destroy();
    this.idle.clear();
  }

  /**
   * GETs bytes [start, end) of `url`, following redirects; resolves when all were handed to onData. A URL
   * that redirected before starts where its bytes were found (locations.ts), and resolves again when that
   * target answers as expired or gone.
   */
  fetch(url: string, start: number, end: number, req: RangeRequest): Promise<void> {
    return this.locations.via(url, (from, firstHeaders) => this.follow(url, from, firstHeaders, start, end, req));
  }

  /** The redirect chain from `from` (`url` itself, or where it led before, with that first answer's headers). */
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
      const auth = req.token && u.origin === origin ? `Authorization: Bearer ${req.token}\r\n` : "";
      const request =
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: ${this.userAgent}\r\n` +
        `Accept-Encoding: identity\r\nRange: bytes=${start}-${end - 1}\r\n${auth}\r\n`;
      const { conn, head } = await this.exchange(u, request, req.signal);
      const h = head.headers;
      firstHeaders ??= h;
      if ([301, 302, 303, 307, 308].includes(head.status) && h.location) {
        await this.discardBody(conn, h, req.signal);
        current = new URL(h.location, current).toString();
        continue;
      }
      if (head.status !== 200 && head.status !== 206) {
        conn.destroy();
        throw new HttpStatusError(
          head.status,
          current,
          h["x-error-code"],
          parseRetryAfter(h["retry-after"], Date.now()),
          h["x-error-message"],
        );
      }
      try {
        req.onResponse?.({ status: head.status, headers: h, firstHeaders, url: current });
      } catch (err) {
        conn.destroy();
        throw err;
      }
      if (h["transfer-encoding"] && h["transfer-encoding"] !== "identity") {
        conn.destroy();
        throw new Error(
          `${redactUrl(current)} answered with Transfer-Encoding ${h["transfer-encoding"]}; a file body needs a Content-Length`,
        );
      }
      let skip: number;
      try {
        skip = checkRangeAnswer(head.status, h, current, start, end);
      } catch (err) {
        conn.destroy();
        throw err;
      }
      const length = h["content-length"] !== undefined ? Number(h["content-length"]) : undefined;
      this.locations.remember(url, current, firstHeaders);
      await this.body(conn, current, length, skip, start, end, req);
      return;
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`);
  }

  private acquire(u: URL): Conn {
    const list = this.idle.get(u.origin);
    while (list && list.length > 0) {
      const c = list.pop()!;
      if (!c.closed) {
        c.reused = true;
        return c;
      }
    }
    return new Conn(u, this.slabs);
  }

  private release(c: Conn): void {
    c.onBytes = undefined;
    c.onEnd = undefined;
    if (c.closed) return;
    const list = this.idle.get(c.origin) ?? [];
    if (list.length >= MAX_IDLE_PER_ORIGIN) {
      c.destroy();
      return;
    }
    list.push(c);
    this.idle.set(c.origin, list);
  }

  /** Sends `request` and waits for the response head; a reused connection the server had closed is replaced once. */
  private async exchange(
    u: URL,
    request: string,
    signal: AbortSignal | undefined,
  ): Promise<{ conn: Conn; head: Head }> {
    for (let attempt = 0; ; attempt++) {
      // The retry takes a new connection: the other idle ones likely timed out at the same moment.
      const conn = attempt === 0 ? this.acquire(u) : new Conn(u, this.slabs);
      try {
        return { conn, head: await this.readHead(conn, u, request, signal) };
      } catch (err) {
        conn.destroy();
        // A keep-alive race (the server closed the idle connection as we reused it) is not a failure.
        if (conn.reused && attempt === 0 && !(err instanceof StallError) && !signal?.aborted) continue;
        throw err;
      }
    }
  }

  private readHead(conn: Conn, u: URL, request: string, signal: AbortSignal | undefined): Promise<Head> {
    return new Promise<Head>((resolve, reject) => {
      const timer = setTimeout(() => fail(new StallError(u.toString(), this.stallMs / 1000)), this.stallMs);
      const onAbort = () => fail(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        conn.onBytes = undefined;
        conn.onEnd = undefined;
      };
      const fail = (err: Error) => {
        done();
        conn.destroy();
        reject(err);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      conn.onEnd = fail;
      conn.onBytes = () => {
        timer.refresh();
        const avail = conn.slab.subarray(conn.consumed, conn.fill);
        const i = avail.indexOf("\r\n\r\n", 0, "latin1");
        if (i < 0) {
          if (avail.length > MAX_HEAD) fail(new Error(`response head from ${u.origin} exceeds ${MAX_HEAD} bytes`));
          return true;
        }
        try {
          const head = parseHead(avail.subarray(0, i).toString("latin1"));
          conn.consumed += i + 4;
          done();
          resolve(head);
        } catch (err) {
          fail(err as Error);
        }
        return true;
      };
      conn.socket.write(request);
      // Bytes may already be buffered (they never are for a fresh request, but keep the invariant simple).
      if (conn.fill > conn.consumed) conn.onBytes();
    });
  }

  /** Drops a small redirect body so the connection can be reused; a large or unframed one closes it. */
  private async discardBody(conn: Conn, h: HeaderMap, signal: AbortSignal | undefined): Promise<void> {
    const len = h["content-length"] !== undefined ? Number(h["content-length"]) : undefined;
    if (len === undefined || len > 64 * 1024 || h["transfer-encoding"]) {
      conn.destroy();
      return;
    }
    let left = len;
    await new Promise<void>((resolve, reject) => {
      const take = () => {
        const n = Math.min(left, conn.fill - conn.consumed);
        conn.consumed += n;
        left -= n;
        if (left === 0) {
          conn.onBytes = undefined;
          conn.onEnd = undefined;
          resolve();
        }
        return true;
      };
      if (signal?.aborted) return reject(asError(signal.reason));
      conn.onEnd = reject;
      conn.onBytes = take;
      take();
    }).catch(() => conn.destroy());
    if (!conn.closed) this.release(conn);
  }

  /** Streams the body to onData in slab-sized pieces; bytes past `end` (a whole-file 200) are not read. */
  private body(
    conn: Conn,
    url: string,
    length: number | undefined,
    skipBytes: number,
    start: number,
    end: number,
    req: RangeRequest,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let skip = skipBytes;
      let offset = start;
      let bodyLeft = length ?? Number.POSITIVE_INFINITY;
      let waiting: Promise<void> | undefined;
      let finished = false;
      const timer = setTimeout(() => stop(new StallError(url, this.stallMs / 1000)), this.stallMs);
      const onAbort = () => stop(req.signal!.reason instanceof Error ? req.signal!.reason : new Error("aborted"));

      /** Hands over the unconsumed bytes (up to `end`); returns false when onData asked to wait. */
      const deliver = (all: boolean): boolean => {
        let avail = conn.fill - conn.consumed;
        if (avail === 0) return true;
        if (!all && conn.slab.length - conn.fill >= conn.minRoom && offset + avail < end && avail < bodyLeft)
          return true;
        avail = Math.min(avail, bodyLeft);
        if (skip > 0) {
          const s = Math.min(skip, avail);
          skip -= s;
          conn.consumed += s;
          bodyLeft -= s;
          avail -= s;
          if (avail === 0) return true;
        }
        const n = Math.min(avail, end - offset);
        const { view, release } = conn.lend(conn.consumed, conn.consumed + n);
        conn.consumed += avail;
        bodyLeft -= avail;
        const at = offset;
        offset += n;
        // The consumer keeps a view of [.., fill); reads go on after `fill`, so they never touch it.
        let w: Promise<void> | undefined;
        try {
          w = req.onData(at, view, release);
        } catch (err) {
          release();
          throw err;
        }
        if (w) {
          waiting = w;
          w.then(
            () => {
              waiting = undefined;
              if (finished) return;
              conn.socket.resume();
              check();
            },
            (err: unknown) => stop(err as Error),
          );
          return false;
        }
        return true;
      };

      const cleanup = () => {
        finished = true;
        conn.fileBase = undefined;
        clearTimeout(timer);
        req.signal?.removeEventListener("abort", onAbort);
        conn.onBytes = undefined;
        conn.onEnd = undefined;
      };

      const complete = () => {
        cleanup();
        const reusable = bodyLeft === 0 && conn.fill === conn.consumed && length !== undefined;
        if (reusable) this.release(conn);
        else conn.destroy();
        // Let a pending write settle before reporting: the caller flushes its writer next anyway.
        (waiting ?? Promise.resolve()).then(() => resolve(), reject);
      };

      /** Ends the transfer early: what already arrived is handed over first, so a retry starts after it. */
      const stop = (err: Error) => {
        if (finished) return;
        try {
          deliver(true);
        } catch {
          // The consumer refused the bytes; the original error still explains the stop.
        }
        cleanup();
        conn.destroy();
        reject(err);
      };

      const check = (): boolean => {
        if (finished) return false;
        timer.refresh();
        if (!deliver(false)) return false;
        if (offset >= end || bodyLeft === 0) {
          if (offset < end) stop(prematureEnd(url, offset - start, end - start));
          else complete();
          // Keep reading: a reused connection must not sit paused in the idle pool.
          return !conn.closed;
        }
        return true;
      };

      if (req.signal?.aborted) return onAbort();
      req.signal?.addEventListener("abort", onAbort, { once: true });
      conn.fileBase = start - skipBytes - conn.consumed;
      conn.onEnd = (err) => {
        // A body without Content-Length ends with the connection.
        if (length === undefined && (err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE") {
          bodyLeft = 0;
          deliver(true);
          if (offset >= end) return complete();
        }
        stop(offset < end ? prematureEnd(url, offset - start, end - start, err) : err);
      };
      conn.onBytes = check;
      check();
    });
  }
}

export function prematureEnd(url: string, got: number, want: number, cause?: NodeJS.ErrnoException): Error {
  const err = new Error(
    `${redactUrl(url)}: connection closed after ${got} of ${want} bytes${cause ? ` (${cause.message})` : ""}`,
  ) as NodeJS.ErrnoException;
  err.code = cause?.code === "ECONNRESET" ? "ECONNRESET" : "ERR_STREAM_PREMATURE_CLOSE";
  return err;
}
