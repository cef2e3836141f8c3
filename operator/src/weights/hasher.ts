// Hashes a file in byte order while its parts arrive in any order: bytes that arrive at the cursor are
// hashed from memory as they stream in; anything else is read back from disk once the bytes before it
// are there. A restarted download hashes what a previous run left on disk the same way.
import { createHash, type Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";

const READ_CHUNK = 4 * 1024 * 1024;

export class SequentialHasher {
  readonly size: number;
  cursor = 0;
  private readonly sha256: Hash = createHash("sha256");
  private readonly gitBlob: Hash | undefined;
  private running: Promise<void> | undefined;

  /** With `gitBlob`, also computes the git blob id (sha1 of "blob <size>\0" + content) of small files. */
  constructor(size: number, gitBlob: boolean) {
    this.size = size;
    if (gitBlob) {
      this.gitBlob = createHash("sha1");
      this.gitBlob.update(`blob ${size}\0`);
    }
  }

  /** Takes bytes arriving at `offset` when they are next in order and no read-back is running. */
  offer(offset: number, buf: Buffer): boolean {
    if (this.running !== undefined || offset !== this.cursor) return false;
    this.update(buf);
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

  digest(): { sha256: string; gitOid: string | null } {
    if (!this.done) throw new Error(`digest at ${this.cursor} of ${this.size} bytes`);
    return { sha256: this.sha256.digest("hex"), gitOid: this.gitBlob ? this.gitBlob.digest("hex") : null };
  }

  private update(buf: Buffer): void {
    this.sha256.update(buf);
    this.gitBlob?.update(buf);
    this.cursor += buf.length;
  }
}

/** Hashes a whole file from disk (sha256, and the git blob id when asked). */
export async function hashFile(fh: FileHandle, size: number, gitBlob: boolean): Promise<{ sha256: string; gitOid: string | null }> {
  const h = new SequentialHasher(size, gitBlob);
  await h.catchUp(fh, () => size);
  return h.digest();
}
