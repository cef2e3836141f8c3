// One file being fetched: its parts, the bytes of each part already on disk, its staging file and its
// in-order hasher.
import { mkdir, open, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import type { DirectIo } from "./direct-io.ts";
import type { IncrementalHash } from "./hash-pool.ts";
import { SequentialHasher } from "./hasher.ts";
import { finalPath, incompletePath } from "./layout.ts";
import { splitParts, type PartialRecord, type Range } from "./plan.ts";
import type { RemoteFile } from "./source.ts";
import { asError } from "../util/errors.ts";

/** Makes the hash of one file (with its git blob id when `gitBlob`). */
export type HashFactory = (size: number, gitBlob: boolean) => IncrementalHash;

export class FileJob {
  readonly file: RemoteFile;
  readonly finalPath: string;
  readonly incompletePath: string;
  readonly partSize: number;
  readonly parts: Range[];
  received: number[];
  pending: number[];
  /** Parts being fetched. */
  inFlight = 0;
  /** Parts fetched whose last writes are still in flight: the file is not complete before they land. */
  writing = 0;
  done = false;
  checksumFailures = 0;
  hasher: SequentialHasher;
  private fresh: boolean;
  private opening: Promise<FileHandle> | undefined;
  private openingDirect: Promise<FileHandle | undefined> | undefined;
  private hashError: Error | undefined;

  private readonly makeHash: HashFactory;

  constructor(file: RemoteFile, dir: string, partSize: number, received: number[] | null, makeHash: HashFactory) {
    this.makeHash = makeHash;
    this.file = file;
    this.finalPath = finalPath(dir, file.path);
    this.incompletePath = incompletePath(dir, file.path);
    this.partSize = partSize;
    this.parts = splitParts(file.size, partSize);
    this.fresh = received === null;
    this.received = received ?? this.parts.map(() => 0);
    this.pending = this.parts.flatMap((p, i) => (this.received[i]! < p.end - p.start ? [i] : []));
    this.hasher = this.newHasher();
  }

  /** Small files (no sha256 listed) are identified by their git blob id, computed alongside. */
  private newHasher(): SequentialHasher {
    return new SequentialHasher(this.file.size, this.makeHash(this.file.size, this.file.sha256 === null));
  }

  /** The staging file, opened once: truncated for a fresh download, as is for a resumed one. */
  open(): Promise<FileHandle> {
    this.opening ??= (async () => {
      await mkdir(path.dirname(this.incompletePath), { recursive: true });
      // Read-write: the hasher reads back parts that arrived out of order.
      const fh = await open(this.incompletePath, this.fresh ? "w+" : "r+");
      this.fresh = false;
      return fh;
    })();
    return this.opening;
  }

  /** The staging file opened again with O_DIRECT, once; undefined when the filesystem refuses it. */
  openDirect(io: DirectIo): Promise<FileHandle | undefined> {
    this.openingDirect ??= this.open().then(() => io.openForWrite(this.incompletePath).catch(() => undefined));
    return this.openingDirect;
  }

  get bytesOnDisk(): number {
    return this.parts.reduce((acc, p, i) => acc + Math.min(this.received[i]!, p.end - p.start), 0);
  }

  /** Every byte fetched and written: nothing pending, in flight or still being written. */
  get settled(): boolean {
    return this.pending.length === 0 && this.inFlight === 0 && this.writing === 0 && this.allReceived;
  }

  get allReceived(): boolean {
    return this.parts.every((p, i) => this.received[i]! >= p.end - p.start);
  }

  record(): PartialRecord {
    return {
      size: this.file.size,
      sha256: this.file.sha256,
      gitOid: this.file.gitOid,
      partSize: this.partSize,
      received: this.received,
    };
  }

  /** End of the bytes on disk that follow the hash cursor without a gap. */
  hashableUpTo(): number {
    let pos = this.hasher.cursor;
    for (const [i, p] of this.parts.entries()) {
      if (pos >= p.end || pos < p.start) continue;
      const written = p.start + this.received[i]!;
      if (written <= pos) return pos;
      if (written < p.end) return written;
      pos = p.end;
    }
    return pos;
  }

  /** Hashes whatever became readable after the cursor; errors surface at `hashed()`. */
  kickHash(): void {
    if (this.hasher.cursor >= this.hashableUpTo() || !this.opening) return;
    this.opening
      .then((fh) => this.hasher.catchUp(fh, () => this.hashableUpTo()))
      .catch((err: unknown) => {
        this.hashError ??= asError(err);
      });
  }

  /** Waits until every byte is hashed (all parts must be on disk). */
  async hashed(): Promise<{ sha256: string; gitOid: string | null }> {
    const fh = await this.open();
    while (!this.hasher.done) {
      if (this.hashError !== undefined) throw this.hashError;
      const before = this.hasher.cursor;
      await this.hasher.catchUp(fh, () => this.hashableUpTo());
      if (this.hasher.cursor === before && this.hashableUpTo() === before && !this.hasher.done) {
        throw new Error(`${this.file.path}: cannot hash past byte ${before}: bytes missing on disk`);
      }
    }
    if (this.hashError !== undefined) throw this.hashError;
    return this.hasher.digest();
  }

  /**
   * Makes every written byte durable, before the rename: a file under its final name whose bytes a
   * node crash could take back would be trusted by the next run. With direct writes the bytes are on
   * the device already and this commits the metadata (and whatever unaligned ends went through the
   * page cache).
   */
  async flush(): Promise<void> {
    await (await this.open()).datasync();
  }

  async close(): Promise<void> {
    const o = this.opening;
    const d = this.openingDirect;
    this.opening = undefined;
    this.openingDirect = undefined;
    if (o) await (await o).close().catch(() => undefined);
    if (d) await (await d)?.close().catch(() => undefined);
  }

  /** Throws away the staged bytes and schedules every part again (after a checksum mismatch). */
  async reset(): Promise<void> {
    await this.close();
    await unlink(this.incompletePath).catch(() => undefined);
    this.fresh = true;
    this.received = this.parts.map(() => 0);
    this.pending = this.parts.map((_, i) => i);
    this.hasher.abandon();
    this.hasher = this.newHasher();
    this.hashError = undefined;
  }
}
