// Writes a stream of chunks to a file at increasing positions. One writev at a time: chunks that
// arrive meanwhile are batched into the next one, so a fast socket means few, large syscalls. Bytes
// are reported as written only once the kernel took them, in order, so "written" is a safe resume point.
import type { FileHandle } from "node:fs/promises";

/** Bytes queued per writer before the socket pauses: bytes received but not yet written are lost to a kill. */
const HIGH_WATER = 4 * 1024 * 1024;
/** Linux takes at most IOV_MAX (1024) buffers per writev. */
const MAX_IOV = 1024;

export class PositionalWriter {
  private readonly fh: FileHandle;
  private readonly onWritten: (bytes: number) => void;
  private pos: number;
  private batch: Buffer[] = [];
  /** Called once a buffer is written (or will never be): the memory may be reused after that. */
  private releases: ((() => void) | undefined)[] = [];
  private batchBytes = 0;
  private inflight = false;
  private error: unknown;
  private waiters: (() => void)[] = [];

  constructor(fh: FileHandle, position: number, onWritten: (bytes: number) => void) {
    this.fh = fh;
    this.pos = position;
    this.onWritten = onWritten;
  }

  /** Queues `buf` (`release` runs once it is written). Returns a promise when the caller should wait. */
  write(buf: Buffer, release?: () => void): Promise<void> | undefined {
    if (this.error !== undefined) {
      release?.();
      throw this.error;
    }
    this.batch.push(buf);
    this.releases.push(release);
    this.batchBytes += buf.length;
    if (!this.inflight) this.kick();
    if (this.batchBytes >= HIGH_WATER) return this.wait(() => this.batchBytes < HIGH_WATER);
    return undefined;
  }

  /** Resolves when every queued byte is written; rejects with the first write error. */
  async flush(): Promise<void> {
    await this.wait(() => !this.inflight && this.batch.length === 0);
    if (this.error !== undefined) throw this.error;
  }

  private wait(ready: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.error !== undefined) reject(this.error);
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

  private kick(): void {
    const bufs = this.batch.splice(0, MAX_IOV);
    const releases = this.releases.splice(0, bufs.length);
    const n = bufs.reduce((a, b) => a + b.length, 0);
    this.batchBytes -= n;
    const pos = this.pos;
    this.pos += n;
    this.inflight = true;
    this.writeAll(bufs, pos, n).then(
      () => {
        for (const r of releases) r?.();
        this.inflight = false;
        this.onWritten(n);
        if (this.batch.length > 0) this.kick();
        this.notify();
      },
      (err: unknown) => {
        for (const r of releases) r?.();
        // Queued buffers will never be written now.
        for (const r of this.releases.splice(0)) r?.();
        this.batch = [];
        this.batchBytes = 0;
        this.inflight = false;
        this.error = err;
        this.notify();
      },
    );
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
