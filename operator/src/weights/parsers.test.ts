// The small parsers that stand between the network and the disk: tree pages, SHA256SUMS, paths,
// safetensors headers.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "@jest/globals";
import { open, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { safetensorsHeader } from "../sim/hub/content.ts";
import { HashPool } from "./hash-pool.ts";
import { SequentialHasher, localHash } from "./hasher.ts";
import { safeRelativePath } from "./layout.ts";
import { checkHeader } from "./safetensors.ts";
import { filesFromTree, nextPageUrl } from "./source-hub.ts";
import { parseSha256Sums } from "./source-url.ts";

describe("Hub tree listing", () => {
  it("follows rel=next in a Link header, relative or absolute", () => {
    expect(
      nextPageUrl(
        '<https://hf.co/api/models/a/b/tree/x?cursor=abc>; rel="next"',
        "https://hf.co/api/models/a/b/tree/x",
      ),
    ).toBe("https://hf.co/api/models/a/b/tree/x?cursor=abc");
    expect(
      nextPageUrl('</api/x?cursor=2>; rel="prev", </api/x?cursor=4>; rel="next"', "http://127.0.0.1:9/api/x"),
    ).toBe("http://127.0.0.1:9/api/x?cursor=4");
    expect(nextPageUrl(undefined, "http://x")).toBeUndefined();
    expect(nextPageUrl('<http://x/1>; rel="last"', "http://x")).toBeUndefined();
  });

  it("takes the LFS sha256 for large files and the git oid for small ones", () => {
    const sha = "AB".repeat(32);
    const files = filesFromTree(
      [
        { type: "directory", path: "inference", oid: "0".repeat(40), size: 0 },
        {
          type: "file",
          path: "model-00001-of-00046.safetensors",
          size: 134,
          oid: "1".repeat(40),
          lfs: { oid: sha, size: 1_059_061_856, pointerSize: 134 },
        },
        { type: "file", path: "config.json", size: 1500, oid: "2".repeat(40) },
      ],
      (p) => `http://h/${p}`,
    );
    expect(files).toEqual([
      { path: "config.json", size: 1500, sha256: null, gitOid: "2".repeat(40), url: "http://h/config.json" },
      {
        path: "model-00001-of-00046.safetensors",
        size: 1_059_061_856,
        sha256: sha.toLowerCase(),
        gitOid: "1".repeat(40),
        url: "http://h/model-00001-of-00046.safetensors",
      },
    ]);
  });

  it("refuses paths that would leave the weights directory", () => {
    for (const p of [
      "../etc/passwd",
      "/abs",
      "a/../../b",
      "a//b",
      ".deepseek-operator/complete.json",
      "x.incomplete",
      "a\\b",
    ]) {
      expect(() => safeRelativePath(p)).toThrow(/unsafe|collides/);
    }
    expect(safeRelativePath("inference/model.py")).toBe("inference/model.py");
    expect(() => filesFromTree([{ type: "file", path: "../x", size: 1, oid: "0" }], (p) => p)).toThrow(/unsafe/);
  });
});

describe("SHA256SUMS", () => {
  it("parses sha256sum text and binary mode lines", () => {
    const a = "a".repeat(64);
    const b = "B".repeat(64);
    expect(parseSha256Sums(`${a}  config.json\n# comment\n\n${b} *model-00001-of-00046.safetensors\n`)).toEqual([
      { path: "config.json", sha256: a },
      { path: "model-00001-of-00046.safetensors", sha256: b.toLowerCase() },
    ]);
  });

  it("rejects malformed lines, duplicates and unsafe paths", () => {
    expect(() => parseSha256Sums("abc  config.json")).toThrow(/line 1/);
    expect(() => parseSha256Sums(`${"a".repeat(64)}  x\n${"b".repeat(64)}  x`)).toThrow(/twice/);
    expect(() => parseSha256Sums(`${"a".repeat(64)}  ../x`)).toThrow(/unsafe/);
  });
});

describe("safetensors headers", () => {
  const header = safetensorsHeader(4096, "layers.0.w")!;
  const json = header.subarray(8).toString("utf8");

  it("accepts a header whose tensors tile the data exactly", () => {
    expect(checkHeader(json, 4096, header.length - 8)).toEqual({ ok: true, tensors: ["layers.0.w"] });
  });

  it("detects a truncated or padded file and broken headers", () => {
    expect(checkHeader(json, 4000, header.length - 8)).toMatchObject({ ok: false });
    expect(checkHeader(json, 5000, header.length - 8)).toMatchObject({
      ok: false,
      error: expect.stringContaining("truncated or padded"),
    });
    expect(checkHeader("{", 4096, 1)).toMatchObject({ ok: false, error: expect.stringContaining("not JSON") });
    const gap = JSON.stringify({
      a: { dtype: "I8", shape: [1], data_offsets: [0, 1] },
      b: { dtype: "I8", shape: [1], data_offsets: [2, 3] },
    });
    expect(checkHeader(gap, 8 + gap.length + 3, gap.length)).toMatchObject({
      ok: false,
      error: expect.stringContaining("gap"),
    });
  });
});

describe("SequentialHasher", () => {
  const hashers = [
    ["on this thread", (size: number) => ({ hash: localHash(size, true), close: async () => undefined })],
    [
      "on a hash thread",
      (size: number) => {
        const pool = new HashPool(2);
        return { hash: pool.create(size, true), close: () => pool.close() };
      },
    ],
  ] as const;
  // 10 kB fits one read; 21 MB takes six reads of 4 MiB, several in flight at once, hashed in order.
  it.each(hashers.flatMap(([name, make]) => [10_000, 21_000_000].map((size) => [name, size, make] as const)))(
    "hashes parts that arrive out of order into the sha256 and git blob id of the whole, %s, %d bytes",
    async (_name, size, make) => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "hasher-"));
      try {
        const data = randomBytes(size);
        const fh = await open(path.join(dir, "f"), "w+");
        const m = make(size);
        const h = new SequentialHasher(data.length, m.hash);
        const a = Math.floor(size * 0.3);
        const b = Math.floor(size * 0.6);
        // Part 2 lands first (on disk only), then part 1 streams in at the cursor.
        await fh.write(data, b, size - b, b);
        expect(h.offer(b, data.subarray(b))).toBe(false);
        expect(h.offer(0, data.subarray(0, a))).toBe(true);
        await fh.write(data, 0, b, 0);
        await h.catchUp(fh, () => data.length);
        await fh.close();
        expect(await h.digest()).toEqual({
          sha256: createHash("sha256").update(data).digest("hex"),
          gitOid: createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex"),
        });
        await m.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it("reads back only what is on disk and catches up with bytes written meanwhile", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "hasher-"));
    try {
      const size = 13_000_000;
      const data = randomBytes(size);
      const fh = await open(path.join(dir, "f"), "w+");
      const h = new SequentialHasher(size, localHash(size, false));
      let written = 5_000_000;
      let issued = written;
      await fh.write(data, 0, written, 0);
      // Each time the hasher asks how far it may read, one more MB starts on its way to the file; it
      // may read only what has landed.
      let chain: Promise<unknown> = Promise.resolve();
      const upTo = () => {
        if (issued < size) {
          const at = issued;
          const more = Math.min(1_000_000, size - at);
          issued += more;
          chain = chain.then(() => fh.write(data, at, more, at)).then(() => (written = at + more));
        }
        return written;
      };
      while (h.cursor < size) {
        await h.catchUp(fh, upTo);
        await chain;
      }
      await fh.close();
      expect((await h.digest()).sha256).toBe(createHash("sha256").update(data).digest("hex"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
