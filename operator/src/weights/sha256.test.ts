// The SHA-NI addon, built from its sources here, and the hash thread's padding around it: every digest
// must equal node:crypto's, one stream or two at a time, at every block boundary and split.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { compileSha256Addon } from "../../native/compile.ts";
import { HashPool } from "./hash-pool.ts";
import { loadSha256Native, sha256Class, type Sha256Class, type Sha256Native } from "./sha256.ts";

const cpuHasSha = /\bsha_ni\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
const dir = mkdtempSync(path.join(os.tmpdir(), "sha256-addon-"));
const addon = path.join(dir, "sha256.node");
let native: Sha256Native | undefined;
let Sha256: Sha256Class;

beforeAll(() => {
  compileSha256Addon(addon);
  native = loadSha256Native(addon);
  if (native) Sha256 = sha256Class(native);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const reference = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

/** `data` cut at `n` random points. */
function pieces(data: Uint8Array, n: number): Uint8Array[] {
  const cuts = Array.from({ length: n }, () => randomInt(0, data.length + 1)).sort((a, b) => a - b);
  return [0, ...cuts, data.length].slice(1).map((end, i, all) => data.subarray(i === 0 ? 0 : all[i - 1]!, end));
}

it("says whether this CPU has the SHA extensions, as /proc/cpuinfo does", () => {
  expect(loadSha256Native(addon) !== undefined).toBe(cpuHasSha);
});

(cpuHasSha ? describe : describe.skip)("SHA-NI", () => {
  it("matches node:crypto at every length around the block and padding boundaries", () => {
    const data = randomBytes(300);
    for (let n = 0; n <= 300; n++) {
      const h = new Sha256();
      h.update(data.subarray(0, n));
      expect(h.digest()).toBe(reference(data.subarray(0, n)));
    }
  });

  it("matches node:crypto however the bytes are split, including in shared memory", () => {
    for (let round = 0; round < 40; round++) {
      const size = randomInt(0, 3 * 1024 * 1024);
      const shared = new Uint8Array(new SharedArrayBuffer(size + 16)).subarray(16);
      shared.set(randomBytes(size));
      const h = new Sha256();
      for (const p of pieces(shared, randomInt(0, 12))) h.update(p);
      expect(h.digest()).toBe(reference(shared));
    }
  });

  it("hashes two streams together, of unequal pieces, mixed with single updates", () => {
    for (let round = 0; round < 30; round++) {
      const a = randomBytes(randomInt(0, 2 * 1024 * 1024));
      const b = randomBytes(randomInt(0, 2 * 1024 * 1024));
      const pa = pieces(a, randomInt(0, 10));
      const pb = pieces(b, randomInt(0, 10));
      const ha = new Sha256();
      const hb = new Sha256();
      while (pa.length > 0 || pb.length > 0) {
        const x = pa[0];
        const y = pb[0];
        if (x && y && randomInt(0, 3) > 0) Sha256.update2(ha, pa.shift()!, hb, pb.shift()!);
        else if (x && (!y || randomInt(0, 2) === 0)) ha.update(pa.shift()!);
        else hb.update(pb.shift()!);
      }
      expect([ha.digest(), hb.digest()]).toEqual([reference(a), reference(b)]);
    }
  });

  it("refuses data that is not whole blocks, and one state for both streams, naming the argument", () => {
    const s = new Uint32Array(8);
    expect(() => native!.compress(s, new Uint8Array(63))).toThrow(/whole 64-byte blocks/);
    expect(() => native!.compress(new Uint32Array(7), new Uint8Array(64))).toThrow(/state must be a Uint32Array of 8/);
    expect(() => native!.compress2(s, new Uint8Array(64), s, new Uint8Array(64))).toThrow(/two states must differ/);
    expect(() => native!.compress2(s, new Uint8Array(64), new Uint32Array(8), new Uint8Array(128))).toThrow(
      /same whole number/,
    );
  });

  it("gives a hash thread's digests for files whose shared-memory slabs arrive interleaved", async () => {
    const pool = new HashPool(1, addon);
    try {
      expect(pool.engine).toBe("sha-ni-x2");
      const files = [5_000_000, 4_194_304, 123, 0, 9_999_999].map((n) => randomBytes(n));
      const hashes = files.map((f) => pool.create(f.length, f.length === 123));
      // One slab of shared memory per update, released by the thread once hashed; files take turns.
      const released: number[] = [];
      const queues = files.map((f) => pieces(f, randomInt(1, 8)));
      let sent = 0;
      for (let turn = 0; queues.some((q) => q.length > 0); turn++) {
        const i = turn % files.length;
        const piece = queues[i]!.shift();
        if (!piece) continue;
        const slab = Buffer.from(new SharedArrayBuffer(piece.length + 8), 8, piece.length);
        slab.set(piece);
        hashes[i]!.update(slab, () => released.push(i));
        sent++;
      }
      const digests = await Promise.all(hashes.map((h) => h.digest()));
      expect(digests.map((d) => d.sha256)).toEqual(files.map((f) => reference(f)));
      expect(digests[2]!.gitOid).toBe(createHash("sha1").update("blob 123\0").update(files[2]!).digest("hex"));
      expect(released).toHaveLength(sent);
    } finally {
      await pool.close();
    }
  });
});

it("falls back to node:crypto on a hash thread without the addon", async () => {
  const pool = new HashPool(1, null);
  try {
    expect(pool.engine).toBe("node:crypto");
    const data = randomBytes(1_000_003);
    const h = pool.create(data.length, false);
    h.update(data);
    expect((await h.digest()).sha256).toBe(reference(data));
  } finally {
    await pool.close();
  }
});
