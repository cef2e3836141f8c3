// Hashes a file in byte order while its parts arrive in any order: bytes that arrive at the cursor are
// hashed from memory as they stream in; anything else is read back from disk once the bytes before it
// are there. A restarted download hashes what a previous run left on disk the same way.
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { Digest, IncrementalHash } from "./hash-pool.ts";

const READ_CHUNK = 4 * 1024 * 1024;

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
    digest: async () => ({ sha256: sha256.digest("hex"), gitOid: git ? git.digest("hex") : null }),
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
    let buf: Buffer | undefined;
    for (let limit = upTo(); this.cursor < limit; limit = upTo()) {
      buf ??= Buffer.allocUnsafe(READ_CHUNK);
      const want = Math.min(READ_CHUNK, limit - this.cursor);
      const { bytesRead } = await fh.read(buf, 0, want, this.cursor);
      if (bytesRead <= 0) throw new Error(`short read at ${this.cursor} while hashing`);
      this.update(buf.subarray(0, bytesRead));
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
