// File contents the simulator serves without storing them: a deterministic function of (seed, path,
// offset). Large files are an AES-256-CTR keystream keyed by sha256(seed, path), so any byte range is
// computed directly from its offset at several GB/s; safetensors shards start with a real header so the
// structure checks of `weights verify` work on them; small files are inline bytes.
import { createCipheriv, createHash } from "node:crypto";

export type ContentSpec =
  /** Exact bytes (config.json, the index, tokenizer files). */
  | { kind: "inline"; bytes: Buffer }
  /** Pseudo-random bytes after an optional prefix (a safetensors header). */
  | { kind: "generated"; size: number; prefix: Buffer };

const ZEROS = Buffer.alloc(1024 * 1024);

export class FileContent {
  readonly path: string;
  readonly size: number;
  private readonly spec: ContentSpec;
  private readonly key: Buffer;

  constructor(seed: string, path: string, spec: ContentSpec) {
    this.path = path;
    this.spec = spec;
    this.size = spec.kind === "inline" ? spec.bytes.length : spec.size;
    this.key = createHash("sha256").update(`${seed}\0${path}`).digest();
  }

  /** Yields the bytes [start, end) in chunks of at most `chunkSize`. */
  *chunks(start: number, end: number, chunkSize: number): Generator<Buffer> {
    if (this.spec.kind === "inline") {
      // Copies: a consumer may alter a chunk (the corrupt fault does) and must not alter the file.
      for (let o = start; o < end; o += chunkSize)
        yield Buffer.from(this.spec.bytes.subarray(o, Math.min(end, o + chunkSize)));
      return;
    }
    const prefix = this.spec.prefix;
    let o = start;
    while (o < end && o < prefix.length) {
      const n = Math.min(end, prefix.length, o + chunkSize) - o;
      yield Buffer.from(prefix.subarray(o, o + n));
      o += n;
    }
    if (o >= end) return;
    // CTR mode: the counter block for offset o is o / 16, so any offset starts without generating what precedes it.
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(Math.floor(o / 16)), 8);
    const cipher = createCipheriv("aes-256-ctr", this.key, iv);
    const skip = o % 16;
    if (skip > 0) cipher.update(ZEROS.subarray(0, skip));
    const step = Math.min(chunkSize, ZEROS.length);
    while (o < end) {
      const n = Math.min(step, end - o);
      yield cipher.update(ZEROS.subarray(0, n));
      o += n;
    }
  }

  read(start: number, end: number): Buffer {
    return Buffer.concat([...this.chunks(start, end, 1024 * 1024)]);
  }
}

const digestCache = new Map<string, { sha256: string; gitOid: string }>();

/** sha256 and git blob id of a file's whole content, computed once per process. */
export function digestOf(seed: string, content: FileContent, prefixId: string): { sha256: string; gitOid: string } {
  const key = `${seed}\0${content.path}\0${content.size}\0${prefixId}`;
  let d = digestCache.get(key);
  if (!d) {
    const sha256 = createHash("sha256");
    const sha1 = createHash("sha1").update(`blob ${content.size}\0`);
    for (const c of content.chunks(0, content.size, 1024 * 1024)) {
      sha256.update(c);
      sha1.update(c);
    }
    d = { sha256: sha256.digest("hex"), gitOid: sha1.digest("hex") };
    digestCache.set(key, d);
  }
  return d;
}

/**
 * A safetensors header (8-byte little-endian length + JSON padded to 8 bytes) for a file of exactly
 * `fileSize` bytes holding one int8 tensor `tensor` that fills the rest. Undefined when too small.
 */
export function safetensorsHeader(fileSize: number, tensor: string): Buffer | undefined {
  let headerLen = 0;
  for (let i = 0; i < 4; i++) {
    const dataLen = fileSize - 8 - headerLen;
    if (dataLen <= 0) return undefined;
    const json = JSON.stringify({
      __metadata__: { format: "pt" },
      [tensor]: { dtype: "I8", shape: [dataLen], data_offsets: [0, dataLen] },
    });
    const padded = Math.ceil(Buffer.byteLength(json) / 8) * 8;
    if (padded === headerLen) {
      const buf = Buffer.alloc(8 + padded, 0x20);
      buf.writeBigUInt64LE(BigInt(padded), 0);
      buf.write(json, 8, "utf8");
      return buf;
    }
    headerLen = padded;
  }
  return undefined;
}
