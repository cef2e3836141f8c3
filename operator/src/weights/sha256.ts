// sha256 on the hash thread with the native SHA-NI compression (operator/native/sha256x2.c): two files'
// bytes at a time, 1.8x the throughput of node:crypto's one stream on the same core. The padding and
// the partial blocks are here, in plain JavaScript kept as source text: the hash thread is an eval'd
// worker (hash-pool.ts), and tests build the very same class from this text on their own thread.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** The addon: block compression only; data lengths are whole 64-byte blocks. */
export type Sha256Native = {
  supported(): boolean;
  compress(state: Uint32Array, blocks: Uint8Array): void;
  compress2(stateA: Uint32Array, blocksA: Uint8Array, stateB: Uint32Array, blocksB: Uint8Array): void;
};

export interface Sha256Hash {
  update(data: Uint8Array): void;
  digest(): string;
}

export interface Sha256Class {
  new (): Sha256Hash;
  /** Feeds `a` and `b` (two different hashes), compressing their common whole blocks together. */
  update2(a: Sha256Hash, da: Uint8Array, b: Sha256Hash, db: Uint8Array): void;
}

/** `class Sha256` over a variable `native` (the addon) in scope. */
export const SHA256_SOURCE = `
class Sha256 {
  constructor() {
    this.state = Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19);
    this.tail = new Uint8Array(64);
    this.tailLen = 0;
    this.total = 0;
  }
  /** Tops up the partial block, keeps the new partial tail, and returns the whole blocks in between. */
  blocks(data) {
    this.total += data.length;
    let i = 0;
    if (this.tailLen > 0) {
      i = Math.min(64 - this.tailLen, data.length);
      this.tail.set(data.subarray(0, i), this.tailLen);
      this.tailLen += i;
      if (this.tailLen < 64) return data.subarray(0, 0);
      native.compress(this.state, this.tail);
      this.tailLen = 0;
    }
    const end = i + (data.length - i) - ((data.length - i) % 64);
    this.tail.set(data.subarray(end), 0);
    this.tailLen = data.length - end;
    return data.subarray(i, end);
  }
  update(data) {
    const b = this.blocks(data);
    if (b.length > 0) native.compress(this.state, b);
  }
  static update2(a, da, b, db) {
    const x = a.blocks(da);
    const y = b.blocks(db);
    const n = Math.min(x.length, y.length);
    if (n > 0) native.compress2(a.state, x.subarray(0, n), b.state, y.subarray(0, n));
    if (x.length > n) native.compress(a.state, x.subarray(n));
    if (y.length > n) native.compress(b.state, y.subarray(n));
  }
  digest() {
    const last = new Uint8Array(this.tailLen + 9 <= 64 ? 64 : 128);
    last.set(this.tail.subarray(0, this.tailLen));
    last[this.tailLen] = 0x80;
    const v = new DataView(last.buffer);
    const bits = this.total * 8; // exact below 2^53: files up to 1 PiB
    v.setUint32(last.length - 8, Math.floor(bits / 0x100000000));
    v.setUint32(last.length - 4, bits >>> 0);
    native.compress(this.state, last);
    let hex = "";
    for (const w of this.state) hex += w.toString(16).padStart(8, "0");
    return hex;
  }
}
`;

/** The class from SHA256_SOURCE over `native`, on this thread. */
export function sha256Class(native: Sha256Native): Sha256Class {
  return new Function("native", `${SHA256_SOURCE}\nreturn Sha256;`)(native) as Sha256Class;
}

/**
 * Where `npm run build` put the addon: dist/native/ next to the bundle's chunks, or seen from these
 * sources (tests, `node operator/src/cli/main.ts`). None when DSO_SHA256_NATIVE=0 or not built.
 */
export function sha256AddonPath(): string | undefined {
  if (process.env.DSO_SHA256_NATIVE === "0") return undefined;
  for (const rel of ["../native/sha256.node", "../../../dist/native/sha256.node"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The addon, when it is built and this CPU has the SHA extensions. */
export function loadSha256Native(file = sha256AddonPath()): Sha256Native | undefined {
  if (!file) return undefined;
  const native = createRequire(import.meta.url)(file) as Sha256Native;
  return native.supported() ? native : undefined;
}
