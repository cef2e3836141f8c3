// The writer's promises: bytes land at their positions, "written" is reported in file order and never
// past a failed write, direct writes take the aligned middle of congruent runs, and a refused direct
// write falls back to the page cache.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, open, readFile, rm, type FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DIO_ALIGN, type DirectIo } from "./direct-io.ts";
import { PositionalWriter, type DirectTarget } from "./positional-writer.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "writer-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pattern = (n: number, seed = 7) => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + (i >> 9)) % 256));

type Call = { pos: number; len: number; direct: boolean };

/**
 * A direct target that writes into the real file (through the page cache: what is tested here is the
 * writer's bookkeeping, not the kernel), optionally finishing writes out of order or failing some.
 */
type FakeOpts = {
  delayMs?: (pos: number) => number;
  fail?: (pos: number, len: number) => NodeJS.ErrnoException | undefined;
  /** Called when a write settles (either way). */
  settled?: (pos: number, len: number, ok: boolean) => void;
};

function fakeDirect(fh: FileHandle, calls: Call[], opts: FakeOpts = {}): DirectTarget {
  const io = {
    congruent: (buf: Buffer, pos: number) => (buf.byteOffset - pos) % DIO_ALIGN === 0,
  } as unknown as DirectIo;
  const dfh = {
    write: async (buf: Buffer, off: number, len: number, pos: number) => {
      calls.push({ pos, len, direct: true });
      expect(pos % DIO_ALIGN).toBe(0);
      expect(len % DIO_ALIGN).toBe(0);
      await new Promise((r) => setTimeout(r, opts.delayMs?.(pos) ?? 0));
      const err = opts.fail?.(pos, len);
      if (err) {
        opts.settled?.(pos, len, false);
        throw err;
      }
      const r = await fh.write(buf, off, len, pos);
      opts.settled?.(pos, len, true);
      return r;
    },
  } as unknown as FileHandle;
  return { fh: dfh, io };
}

/** A view whose byteOffset ≡ `pos` (mod DIO_ALIGN), as the range client places slab bytes. */
function placed(bytes: Buffer, pos: number): Buffer {
  const at = pos % DIO_ALIGN;
  const slab = Buffer.alloc(at + bytes.length + DIO_ALIGN);
  const shift = (DIO_ALIGN - (slab.byteOffset % DIO_ALIGN)) % DIO_ALIGN;
  const region = Buffer.from(slab.buffer, slab.byteOffset + shift, slab.length - shift);
  bytes.copy(region, at);
  return region.subarray(at, at + bytes.length);
}

async function track(file: string) {
  const fh = await open(file, "w+");
  const reports: number[] = [];
  return { fh, reports, total: () => reports.reduce((a, b) => a + b, 0) };
}

describe("PositionalWriter", () => {
  it("writes chunks at increasing positions through the page cache", async () => {
    const file = path.join(dir, "plain");
    const { fh, reports, total } = await track(file);
    const data = pattern(300_000);
    const w = new PositionalWriter(fh, 1000, (n) => reports.push(n));
    for (let i = 0; i < data.length; i += 7000) await w.write(data.subarray(i, i + 7000));
    await w.flush();
    await fh.close();
    expect(total()).toBe(data.length);
    expect((await readFile(file)).subarray(1000).equals(data)).toBe(true);
  });

  it("sends the aligned middle of a congruent run direct and its ends through the page cache", async () => {
    const file = path.join(dir, "direct");
    const { fh, reports, total } = await track(file);
    const calls: Call[] = [];
    const start = 1234;
    const data = pattern(10 * DIO_ALIGN + 777);
    const run = placed(data, start);
    const w = new PositionalWriter(fh, start, (n) => reports.push(n), fakeDirect(fh, calls));
    // Pieces of one contiguous run arrive separately: the writer joins them.
    for (let i = 0; i < run.length; i += 5000) await w.write(run.subarray(i, i + 5000));
    await w.flush();
    await fh.close();
    expect(total()).toBe(data.length);
    expect((await readFile(file)).subarray(start).equals(data)).toBe(true);
    const direct = calls.filter((c) => c.direct).reduce((a, c) => a + c.len, 0);
    // Everything but the unaligned head (up to the first boundary) and tail went direct.
    const head = DIO_ALIGN - (start % DIO_ALIGN);
    expect(direct).toBe(Math.floor((data.length - head) / DIO_ALIGN) * DIO_ALIGN);
  });

  it("writes a run placed out of congruence through the page cache only", async () => {
    const file = path.join(dir, "misplaced");
    const { fh, total, reports } = await track(file);
    const calls: Call[] = [];
    const data = pattern(6 * DIO_ALIGN);
    const w = new PositionalWriter(fh, 0, (n) => reports.push(n), fakeDirect(fh, calls));
    await w.write(placed(data, 100)); // congruent to 100, written at 0
    await w.flush();
    await fh.close();
    expect(calls).toHaveLength(0);
    expect(total()).toBe(data.length);
    expect((await readFile(file)).equals(data)).toBe(true);
  });

  it("reports written bytes in file order when later writes finish first", async () => {
    const file = path.join(dir, "order");
    const { fh } = await track(file);
    const calls: Call[] = [];
    const data = pattern(8 * DIO_ALIGN);
    const finished = new Set<number>();
    // Earlier positions take longer: completions arrive in reverse.
    const target = fakeDirect(fh, calls, {
      delayMs: (pos) => 40 - pos / DIO_ALIGN,
      settled: (pos, len) => {
        for (let p = pos; p < pos + len; p += DIO_ALIGN) finished.add(p);
      },
    });
    let reported = 0;
    const w = new PositionalWriter(
      fh,
      0,
      (n) => {
        // Every byte up to the new mark must be finished.
        for (let p = reported; p < reported + n; p += DIO_ALIGN) expect(finished.has(p)).toBe(true);
        reported += n;
      },
      target,
    );
    const run = placed(data, 0);
    for (let i = 0; i < data.length; i += DIO_ALIGN) await w.write(run.subarray(i, i + DIO_ALIGN));
    await w.flush();
    await fh.close();
    expect(reported).toBe(data.length);
    expect(calls.length).toBeGreaterThan(1);
  });

  it("never reports bytes past a failed write, and settles before it rejects", async () => {
    const file = path.join(dir, "fail");
    const { fh, total, reports } = await track(file);
    const calls: Call[] = [];
    const data = pattern(16 * DIO_ALIGN);
    const failAt = 4 * DIO_ALIGN;
    let settled = 0;
    const target = fakeDirect(fh, calls, {
      delayMs: (pos) => (pos > failAt ? 30 : 5),
      fail: (pos, len) =>
        pos <= failAt && failAt < pos + len
          ? Object.assign(new Error("no space left on device"), { code: "ENOSPC" })
          : undefined,
      settled: () => settled++,
    });
    const w = new PositionalWriter(fh, 0, (n) => reports.push(n), target);
    const run = placed(data, 0);
    let thrown: unknown;
    try {
      for (let i = 0; i < data.length; i += 2 * DIO_ALIGN) await w.write(run.subarray(i, i + 2 * DIO_ALIGN));
    } catch (err) {
      thrown = err;
    }
    await expect(w.flush()).rejects.toThrow("no space left");
    expect(settled).toBe(calls.length);
    expect(thrown === undefined || (thrown as Error).message.includes("no space")).toBe(true);
    // The resume point stays at or before the failed write.
    const failed = calls.find((c) => c.pos <= failAt && c.pos + c.len > failAt)!;
    expect(total()).toBeLessThanOrEqual(failed.pos);
    await fh.close();
  });

  it("falls back to the page cache when the filesystem refuses a direct write", async () => {
    const file = path.join(dir, "einval");
    const { fh, total, reports } = await track(file);
    const calls: Call[] = [];
    const data = pattern(12 * DIO_ALIGN);
    const target = fakeDirect(fh, calls, {
      fail: () => Object.assign(new Error("invalid argument"), { code: "EINVAL" }),
    });
    const w = new PositionalWriter(fh, 0, (n) => reports.push(n), target);
    const run = placed(data, 0);
    for (let i = 0; i < data.length; i += 3 * DIO_ALIGN) await w.write(run.subarray(i, i + 3 * DIO_ALIGN));
    await w.flush();
    await fh.close();
    // Tried while the first attempts were in flight (two at most), then never again.
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThanOrEqual(2);
    expect(total()).toBe(data.length);
    expect((await readFile(file)).equals(data)).toBe(true);
  });
});
