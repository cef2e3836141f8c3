// Writes a stream of chunks to a file at increasing positions. Chunks that arrive while writes are in
// flight are batched into the next one, so a fast socket means few, large syscalls. Bytes are reported
// as written only once the kernel took them and every byte before them, so "written" is a safe resume
// point. With a direct target, runs of contiguous memory placed congruent to their file offset (the
// range client's aligned slabs) go to the device with O_DIRECT, several at once (each waits for the
// device, so one at a time would leave it idle between them); only the unaligned ends of a run go
// through the page cache, one write at a time.
import type { FileHandle } from "node:fs/promises";
import { DIO_ALIGN, mod, type DirectIo } from "./direct-io.ts";
import { asError } from "../util/errors.ts";

/** Bytes queued per writer before the socket pauses: bytes received but not yet written are lost to a kill. */
const HIGH_WATER = 16 * 1024 * 1024;
/** Linux takes at most IOV_MAX (1024) buffers per writev. */
const MAX_IOV = 1024;
/** Direct writes in flight per writer. */
const DIRECT_IN_FLIGHT = 2;

/** The same file opened with O_DIRECT, and the allocator that knows which memory is aligned. */
export type DirectTarget = { fh: FileHandle; io: DirectIo };

type Entry = { buf: Buffer; release: (() => void) | undefined };
type Op = { bufs: Buffer[]; releases: (() => void)[]; n: number; direct: Buffer | undefined; settled?: boolean };

export class PositionalWriter {
  private readonly fh: FileHandle;
  private direct: DirectTarget | undefined;
  private readonly onWritten: (bytes: number) => void;
  private pos: number;
  private batch: Entry[] = [];
  private batchBytes = 0;
  /** Writes issued and not yet reported, in file order; the front ones are reported once settled. */
  private issued: Op[] = [];
  /** No more bytes will come: a held unaligned tail is written through the page cache now. */
  private flushing = false;
  private error: Error | undefined;
  private waiters: (() => void)[] = [];

  constructor(fh: FileHandle, position: number, onWritten: (bytes: number) => void, direct?: DirectTarget) {
    this.fh = fh;
    this.pos = position;
    this.onWritten = onWritten;
    this.direct = direct;
  }

  /** Queues `buf` (`release` runs once it is written). Returns a promise when the caller should wait. */
  write(buf: Buffer, release?: () => void): Promise<void> | undefined {
    if (this.error !== undefined) {
      release?.();
      throw this.error;
    }
    this.batch.push({ buf, release });
    this.batchBytes += buf.length;
    this.kick();
    if (this.batchBytes >= HIGH_WATER) return this.wait(() => this.batchBytes < HIGH_WATER);
    return undefined;
  }

  /**
   * Writes what is queued and resolves when it is written; rejects with the first write error, once no
   * write is in flight any more (a retry may then rewrite the same bytes without racing an old write).
   */
  async flush(): Promise<void> {
    this.flushing = true;
    this.kick();
    await this.wait(() => this.issued.length === 0 && (this.batch.length === 0 || this.error !== undefined), true);
    if (this.error !== undefined) throw this.error;
  }

  private wait(ready: () => boolean, settleFirst = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.error !== undefined && !settleFirst) reject(this.error);
        else if (ready()) resolve();
        else this.waiters.push(check);
      };
      check();
    });
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Issues writes while there is room: up to DIRECT_IN_FLIGHT direct ones, or one through the page cache. */
  private kick(): void {
    while (this.error === undefined && this.batch.length > 0) {
      const last = this.issued.at(-1);
      if (last && (this.issued.length >= DIRECT_IN_FLIGHT || !last.direct || !this.direct)) return;
      const op = this.direct ? this.nextDirectOp(this.direct) : this.take(this.batchBytes, MAX_IOV);
      if (op === undefined || op.n === 0) return;
      this.issue(op);
    }
  }

  private issue(op: Op): void {
    this.batchBytes -= op.n;
    const pos = this.pos;
    this.pos += op.n;
    this.issued.push(op);
    (op.direct ? this.writeDirect(op.direct, pos) : this.writeAll(op.bufs, pos, op.n)).then(
      () => {
        op.settled = true;
        for (const r of op.releases) r();
        // Reported in file order: a write that finished before an earlier one waits for it. After a
        // failure nothing more is reported: the bytes before these may be missing.
        if (this.error === undefined) {
          while (this.issued[0]?.settled) this.onWritten(this.issued.shift()!.n);
        } else {
          this.issued = this.issued.filter((o) => !o.settled);
        }
        this.kick();
        this.notify();
      },
      (err: unknown) => {
        op.settled = true;
        for (const r of op.releases) r();
        this.error ??= asError(err);
        // Queued buffers will never be written now.
        for (const e of this.batch.splice(0)) e.release?.();
        this.batchBytes = 0;
        this.issued = this.issued.filter((o) => !o.settled);
        this.notify();
      },
    );
  }

  /**
   * The next write with a direct target: the aligned middle of the leading memory-contiguous run goes
   * direct; its unaligned head, a run placed out of congruence, or (at the end) its tail go buffered. A
   * tail is held back while more bytes may still extend it.
   */
  private nextDirectOp(direct: DirectTarget): Op | undefined {
    const first = this.batch[0];
    if (first === undefined) return undefined;
    let runLen = first.buf.length;
    let k = 1;
    for (; k < this.batch.length; k++) {
      const prev = this.batch[k - 1]!.buf;
      const b = this.batch[k]!.buf;
      if (b.buffer !== prev.buffer || b.byteOffset !== prev.byteOffset + prev.length) break;
      runLen += b.length;
    }
    const run = Buffer.from(first.buf.buffer, first.buf.byteOffset, runLen);
    if (!direct.io.congruent(run, this.pos)) return this.take(runLen, MAX_IOV);
    const head = Math.min(runLen, mod(-this.pos, DIO_ALIGN));
    if (head > 0) return this.take(head, MAX_IOV);
    const middle = runLen - (runLen % DIO_ALIGN);
    if (middle > 0) return { ...this.take(middle, Number.POSITIVE_INFINITY), direct: run.subarray(0, middle) };
    if (!this.flushing && k === this.batch.length) return undefined;
    return this.take(runLen, MAX_IOV);
  }

  /** Removes `n` bytes (in at most `maxBufs` pieces) from the front of the batch. */
  private take(n: number, maxBufs: number): Op {
    const bufs: Buffer[] = [];
    const releases: (() => void)[] = [];
    let got = 0;
    while (got < n && bufs.length < maxBufs && this.batch.length > 0) {
      const e = this.batch[0]!;
      const want = n - got;
      if (e.buf.length <= want) {
        this.batch.shift();
        bufs.push(e.buf);
        if (e.release) releases.push(e.release);
        got += e.buf.length;
      } else {
        bufs.push(e.buf.subarray(0, want));
        e.buf = e.buf.subarray(want);
        got += want;
      }
    }
    return { bufs, releases, n: got, direct: undefined };
  }

  /** A direct write; what it does not take (a short write, or a filesystem that refuses it) goes buffered. */
  private async writeDirect(buf: Buffer, pos: number): Promise<void> {
    let done = 0;
    try {
      done = (await this.direct!.fh.write(buf, 0, buf.length, pos)).bytesWritten;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
      this.direct = undefined;
    }
    if (done < buf.length) await this.writeAll([buf.subarray(done)], pos + done, buf.length - done);
  }

  private async writeAll(bufs: Buffer[], pos: number, n: number): Promise<void> {
    let { bytesWritten } = await this.fh.writev(bufs, pos);
    if (bytesWritten === n) return;
    // A short write (rare on regular files): write the rest from one buffer.
    const rest = Buffer.concat(bufs).subarray(bytesWritten);
    let off = 0;
    while (off < rest.length) {
      const r = await this.fh.write(rest, off, rest.length - off, pos + bytesWritten);
      if (r.bytesWritten <= 0) throw new Error(`write returned ${r.bytesWritten} at ${pos + bytesWritten}`);
      off += r.bytesWritten;
      bytesWritten += r.bytesWritten;
    }
  }
}
