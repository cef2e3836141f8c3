// Hashes a file in byte order while its parts arrive in any order: bytes that arrive at the cursor are
// hashed from memory as they stream in; anything else is read back from disk once the bytes before it
// are there. A restarted download hashes what a previous run left on disk the same way.
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { Digest, IncrementalHash } from "./hash-pool.ts";

const READ_CHUNK = 4 * 1024 * 1024;
/**
 * Reads in flight while reading back. A part fetched out of order near the end of a pull (written past
 * the page cache) is the last thing the pull waits for: with one read at a time the device and the hash
 * thread would each sit idle while the other worked.
 */
const READ_DEPTH = 4;
/** Read-back buffers alive at once (lent to the hash thread until it has hashed them): 32 MiB. */
const READ_BUFFERS = 8;

/**
 * Shared memory, so a hash thread reads the bytes where they are instead of getting a copy; a buffer
 * comes back (give) once hashed. `take` waits while READ_BUFFERS are out.
 */
class ReadBuffers {
  private readonly free: Buffer[] = [];
  private out = 0;
  private waiter: (() => void) | undefined;
  async take(): Promise<Buffer> {
    while (this.free.length === 0 && this.out >= READ_BUFFERS) await new Promise<void>((r) => (this.waiter = r));
    this.out++;
    return this.free.pop() ?? Buffer.from(new SharedArrayBuffer(READ_CHUNK));
  }
  give(buf: Buffer): void {
    this.out--;
    this.free.push(buf);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** sha256 (and git blob id) on this thread: for one-off checks of files on disk. */
export function localHash(size: number, gitBlob: boolean): IncrementalHash {
  const sha256 = createHash("sha256");
  const git = gitBlob ? createHash("sha1").update(`blob ${size}\0`) : undefined;
  return {
    update: (buf, release) => {
      sha256.update(buf);
      git?.update(buf);
      release?.();
    },
    digest: () => Promise.resolve({ sha256: sha256.digest("hex"), gitOid: git ? git.digest("hex") : null }),
    abandon: () => undefined,
  };
}

export class SequentialHasher {
  readonly size: number;
  cursor = 0;
  private readonly hash: IncrementalHash;
  private running: Promise<void> | undefined;

  /** `hash` computes sha256, and the git blob id (sha1 of "blob <size>\0" + content) when asked for. */
  constructor(size: number, hash: IncrementalHash) {
    this.size = size;
    this.hash = hash;
  }

  /**
   * Takes bytes arriving at `offset` when they are next in order and no read-back is running; `release`
   * runs once they are hashed. Refused bytes (false) are the caller's to release; they are read back later.
   */
  offer(offset: number, buf: Buffer, release?: () => void): boolean {
    if (this.running !== undefined || offset !== this.cursor) return false;
    this.update(buf, release);
    return true;
  }

  /**
   * Hashes bytes [cursor, upTo()) from the file. A call while a read-back runs joins it; the running
   * one re-reads `upTo()` after each chunk, so it also covers bytes written meanwhile.
   */
  catchUp(fh: FileHandle, upTo: () => number): Promise<void> {
    this.running ??= this.readBack(fh, upTo).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async readBack(fh: FileHandle, upTo: () => number): Promise<void> {
    const buffers = new ReadBuffers();
    const queue: { at: number; want: number; buf: Buffer; read: Promise<number> }[] = [];
    let next = this.cursor;
    try {
      for (;;) {
        for (let limit = upTo(); queue.length < READ_DEPTH && next < limit;) {
          const want = Math.min(READ_CHUNK, limit - next);
          const buf = await buffers.take();
          const read = fh.read(buf, 0, want, next).then((r) => r.bytesRead);
          // Awaited in order below; one failing while an earlier one is awaited must not count as unhandled.
          read.catch(() => undefined);
          queue.push({ at: next, want, buf, read });
          next += want;
        }
        const r = queue.shift();
        if (!r) return;
        const n = await r.read;
        if (n <= 0) throw new Error(`short read at ${r.at} while hashing`);
        this.update(r.buf.subarray(0, n), () => buffers.give(r.buf));
        if (n < r.want) {
          // The reads queued behind a short one start past bytes not hashed yet: drop them, go on from here.
          await Promise.allSettled(queue.map((q) => q.read));
          for (const q of queue.splice(0)) buffers.give(q.buf);
          next = this.cursor;
        }
      }
    } finally {
      // No read may land in a buffer after the read-back has returned.
      await Promise.allSettled(queue.map((q) => q.read));
    }
  }

  get done(): boolean {
    return this.cursor >= this.size;
  }

  digest(): Promise<Digest> {
    if (!this.done) return Promise.reject(new Error(`digest at ${this.cursor} of ${this.size} bytes`));
    return this.hash.digest();
  }

  /** Frees the hash of a download that starts over. */
  abandon(): void {
    this.hash.abandon();
  }

  private update(buf: Buffer, release?: () => void): void {
    this.hash.update(buf, release);
    this.cursor += buf.length;
  }
}

/** Hashes a whole file from disk (sha256, and the git blob id when asked). */
export async function hashFile(fh: FileHandle, size: number, gitBlob: boolean): Promise<Digest> {
  const h = new SequentialHasher(size, localHash(size, gitBlob));
  await h.catchUp(fh, () => size);
  return h.digest();
}
