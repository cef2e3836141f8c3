// O_DIRECT writes: socket bytes go from the receive slab to the device without a copy into the page
// cache. Buffered writes through libuv's threadpool copy every byte in the kernel on another core,
// after the bytes have gone cold, and the page cache must still be written back before the rename; on
// a small node that copy is the downloader's largest cost (docs/weights.md). Direct writes need their memory
// address, file offset and length aligned to the device's block size; JavaScript cannot see an address,
// so the alignment of each arena of slabs is found by trying direct I/O at increasing offsets of it (the
// kernel answers EINVAL until one is aligned) against a scratch file on the target filesystem: one
// block is written there once, later probes read it back. (A hole would not do: reading one checks no
// alignment.)
import { constants, readSync, writeSync } from "node:fs";
import { mkdir, open, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";

/**
 * Alignment of offsets, lengths and addresses for direct writes: the page size, which every Linux block size divides.
 */
export const DIO_ALIGN = 4096;
const PROBE_STEP = 16; // malloc aligns to at least 16 bytes
/** Slabs are carved from arenas of this size: one probe and one allocation per arena. */
const ARENA = 32 * 1024 * 1024;

/**
 * Offsets to try, the one that worked last time first: large allocations come from mmap with the same
 * header in front, so after the first arena one probe usually does. Each refused one costs a syscall
 * and an exception object, up to 255 of them at a weights Job's start.
 */
let lastAligned = DIO_ALIGN - PROBE_STEP;
function* probeOrder(): Generator<number> {
  const first = lastAligned;
  yield first;
  for (let off = 0; off < DIO_ALIGN; off += PROBE_STEP) if (off !== first) yield off;
}

/** x modulo m, never negative (JavaScript's % keeps the sign of x). */
export const mod = (x: number, m: number) => ((x % m) + m) % m;

export class DirectIo {
  private readonly probe: FileHandle;
  private readonly probePath: string;
  /** For each aligned allocation: the byte offset in its ArrayBuffer where the address is aligned. */
  private readonly bases = new WeakMap<ArrayBufferLike, number>();
  private arena: Buffer | undefined;
  private arenaUsed = 0;

  private constructor(probe: FileHandle, probePath: string) {
    this.probe = probe;
    this.probePath = probePath;
  }

  /**
   * Direct I/O for files under `dir`, or null where the filesystem refuses O_DIRECT (tmpfs on older
   * kernels, some FUSE and network mounts): the caller then writes through the page cache.
   */
  static async open(dir: string): Promise<DirectIo | null> {
    const probePath = path.join(dir, ".deepseek-operator", "direct-io-probe");
    await mkdir(path.dirname(probePath), { recursive: true });
    let fh: FileHandle;
    try {
      fh = await open(probePath, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT, 0o600);
    } catch {
      return null;
    }
    const dio = new DirectIo(fh, probePath);
    try {
      dio.arena = dio.alignedRegion(ARENA, "write");
      return dio;
    } catch {
      await dio.close();
      return null;
    }
  }

  /**
   * A buffer of `size` bytes whose start address suits direct writes. Shared memory, so a hash thread
   * can read the bytes in place (hash-pool.ts) instead of getting a copy.
   */
  allocate(size: number): Buffer {
    const span = Math.ceil(size / DIO_ALIGN) * DIO_ALIGN;
    if (span > ARENA / 4) return this.alignedRegion(size);
    if (!this.arena || this.arenaUsed + span > this.arena.length) {
      this.arena = this.alignedRegion(ARENA);
      this.arenaUsed = 0;
    }
    const buf = this.arena.subarray(this.arenaUsed, this.arenaUsed + size);
    this.arenaUsed += span;
    return buf;
  }

  private alignedRegion(size: number, probe: "read" | "write" = "read"): Buffer {
    const raw = Buffer.from(new SharedArrayBuffer(size + DIO_ALIGN));
    for (const off of probeOrder()) {
      try {
        // Synchronous on purpose: a few syscalls per arena, which the caller needs before its next read.
        if (probe === "write") writeSync(this.probe.fd, raw, off, DIO_ALIGN, 0);
        else if (readSync(this.probe.fd, raw, off, DIO_ALIGN, 0) !== DIO_ALIGN)
          throw new Error("short read of the direct-I/O probe block");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EINVAL") continue;
        throw err;
      }
      const buf = raw.subarray(off, off + size);
      this.bases.set(buf.buffer, off);
      lastAligned = off;
      return buf;
    }
    throw new Error("no offset of a fresh buffer was accepted for a direct write");
  }

  /** True when `buf` can be written directly at file offset `pos`, up to their common alignment. */
  congruent(buf: Buffer, pos: number): boolean {
    const base = this.bases.get(buf.buffer);
    return base !== undefined && mod(buf.byteOffset - base, DIO_ALIGN) === mod(pos, DIO_ALIGN);
  }

  /** Opens `file` (already created) for direct writes. */
  openForWrite(file: string): Promise<FileHandle> {
    return open(file, constants.O_WRONLY | constants.O_DIRECT);
  }

  async close(): Promise<void> {
    await this.probe.close().catch(() => undefined);
    await unlink(this.probePath).catch(() => undefined);
  }
}
