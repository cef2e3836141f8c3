import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import {
  bytesStillNeeded,
  decideFile,
  pickNextPart,
  remainingRanges,
  splitParts,
  sumReceived,
  type Expected,
} from "./plan.ts";

const expected: Expected = {
  path: "model-00001-of-00046.safetensors",
  size: 1000,
  sha256: "a".repeat(64),
  gitOid: "b".repeat(40),
};

describe("splitParts / remainingRanges", () => {
  it("splits a file into parts that tile it", () => {
    expect(splitParts(10, 4)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(splitParts(0, 4)).toEqual([{ start: 0, end: 0 }]);
    expect(() => splitParts(10, 0)).toThrow();
  });

  it("fetches exactly the bytes not on disk, never one that is", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (size, partSize, raw) => {
          const parts = splitParts(size, partSize);
          const received = parts.map((p, i) => Math.min(raw[i % Math.max(1, raw.length)] ?? 0, p.end - p.start));
          const ranges = remainingRanges(size, partSize, received);
          const covered = new Uint8Array(size);
          parts.forEach((p, i) => covered.fill(1, p.start, p.start + received[i]!));
          for (const r of ranges) {
            for (let b = r.start; b < r.end; b++) {
              if (covered[b]) return false; // re-fetching a byte on disk
              covered[b] = 1;
            }
          }
          const fetched = ranges.reduce((a, r) => a + r.end - r.start, 0);
          return covered.every((x) => x === 1) && fetched + sumReceived(size, partSize, received) === size;
        },
      ),
    );
  });

  it("rejects a state whose part count does not match", () => {
    expect(() => remainingRanges(10, 4, [0, 0])).toThrow(/expected 3/);
  });
});

describe("decideFile", () => {
  const stat = { size: 1000, mtimeMs: 5 };
  const record = { size: 1000, mtimeMs: 5, sha256: "a".repeat(64), gitOid: null };

  it("skips a file verified earlier whose stat is unchanged", () => {
    expect(decideFile(expected, 100, { finalStat: stat, record })).toEqual({ action: "skip" });
  });

  it("re-hashes instead of trusting a record whose stat changed or whose hash is another revision's", () => {
    expect(decideFile(expected, 100, { finalStat: { size: 1000, mtimeMs: 6 }, record })).toEqual({ action: "hash" });
    expect(decideFile(expected, 100, { finalStat: stat, record: { ...record, sha256: "c".repeat(64) } })).toEqual({
      action: "hash",
    });
    expect(decideFile(expected, 100, { finalStat: stat })).toEqual({ action: "hash" });
  });

  it("replaces a final file of the wrong size", () => {
    expect(decideFile(expected, 100, { finalStat: { size: 999, mtimeMs: 5 } })).toEqual({
      action: "fresh",
      partSize: 100,
      replaceFinal: true,
    });
  });

  it("resumes a partial download with the part size it started with", () => {
    const partial = { size: 1000, sha256: expected.sha256, gitOid: null, partSize: 300, received: [300, 120, 0, 0] };
    expect(decideFile(expected, 100, { partial, incompleteSize: 420 })).toEqual({
      action: "resume",
      partSize: 300,
      received: [300, 120, 0, 0],
    });
  });

  it("starts over when the staging file cannot hold what the state claims, or is another file's", () => {
    const partial = { size: 1000, sha256: expected.sha256, gitOid: null, partSize: 300, received: [300, 120, 0, 0] };
    expect(decideFile(expected, 100, { partial, incompleteSize: 419 }).action).toBe("fresh");
    expect(decideFile(expected, 100, { partial }).action).toBe("fresh");
    expect(
      decideFile(expected, 100, { partial: { ...partial, sha256: "d".repeat(64) }, incompleteSize: 1000 }).action,
    ).toBe("fresh");
    expect(decideFile(expected, 100, { partial: { ...partial, received: [1, 2] }, incompleteSize: 1000 }).action).toBe(
      "fresh",
    );
  });

  it("identifies a small file by its git blob id when there is no sha256", () => {
    const small: Expected = { path: "config.json", size: 10, sha256: null, gitOid: "e".repeat(40) };
    const rec = { size: 10, mtimeMs: 1, sha256: "f".repeat(64), gitOid: "e".repeat(40) };
    expect(decideFile(small, 100, { finalStat: { size: 10, mtimeMs: 1 }, record: rec })).toEqual({ action: "skip" });
    expect(
      decideFile(small, 100, { finalStat: { size: 10, mtimeMs: 1 }, record: { ...rec, gitOid: "0".repeat(40) } }),
    ).toEqual({ action: "hash" });
  });
});

describe("pickNextPart", () => {
  it("spreads connections over files before splitting one file", () => {
    const files = [
      { pending: [1, 2], inFlight: 1 },
      { pending: [0, 1], inFlight: 0 },
      { pending: [0], inFlight: 0 },
    ];
    expect(pickNextPart(files)).toEqual({ file: 1, part: 0 });
  });

  it("splits the last files across idle connections at the end", () => {
    expect(
      pickNextPart([
        { pending: [], inFlight: 1 },
        { pending: [3, 4], inFlight: 1 },
      ]),
    ).toEqual({ file: 1, part: 3 });
    expect(pickNextPart([{ pending: [], inFlight: 2 }])).toBeNull();
  });
});

it("counts the bytes the disk must still take", () => {
  expect(
    bytesStillNeeded([
      { size: 100, onDisk: 40, done: false },
      { size: 50, onDisk: 0, done: false },
      { size: 70, onDisk: 70, done: true },
    ]),
  ).toBe(110);
});
