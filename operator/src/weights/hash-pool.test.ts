// The hash threads: every digest must equal node:crypto's on this thread, whether the bytes come in
// shared-memory slabs hashed in place (released once read) or as copies, with files interleaved.
import { describe, expect, it } from "@jest/globals";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { HashPool } from "./hash-pool.ts";

const reference = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

function pieces(data: Uint8Array, n: number): Uint8Array[] {
  const cuts = Array.from({ length: n }, () => randomInt(0, data.length + 1)).sort((a, b) => a - b);
  return [0, ...cuts, data.length].slice(1).map((end, i, all) => data.subarray(i === 0 ? 0 : all[i - 1]!, end));
}

describe("HashPool", () => {
  it("gives a hash thread's digests for files whose shared-memory slabs arrive interleaved", async () => {
    const pool = new HashPool(1);
    try {
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

  it("hashes bytes copied to the thread (not in shared memory)", async () => {
    const pool = new HashPool(1);
    try {
      const data = randomBytes(1_000_003);
      const h = pool.create(data.length, false);
      h.update(data);
      expect((await h.digest()).sha256).toBe(reference(data));
    } finally {
      await pool.close();
    }
  });
});
