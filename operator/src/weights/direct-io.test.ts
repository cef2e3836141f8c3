// Direct I/O against the real filesystem of the temp dir: alignment found by probing, congruence of
// views and file offsets, and the fallback where O_DIRECT is refused.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { constants, openSync, closeSync, writeSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DIO_ALIGN, DirectIo } from "./direct-io.ts";

let dir = "";
let io: DirectIo | null = null;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "direct-io-"));
  io = await DirectIo.open(dir);
});
afterAll(async () => {
  await io?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Whether the kernel takes a direct write of `buf` at `pos` (EINVAL when misaligned). */
function directWriteWorks(file: string, buf: Buffer, pos: number): boolean {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT);
  try {
    writeSync(fd, buf, 0, buf.length, pos);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EINVAL") return false;
    throw err;
  } finally {
    closeSync(fd);
  }
}

describe("DirectIo", () => {
  it("is available exactly where the filesystem takes O_DIRECT", () => {
    let supported = true;
    try {
      closeSync(openSync(path.join(dir, "probe-check"), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT));
    } catch {
      supported = false;
    }
    expect(io !== null).toBe(supported);
  });

  it("allocates memory the kernel takes for direct writes, and says so", () => {
    if (!io) return; // the filesystem refuses O_DIRECT: covered by the test above
    const file = path.join(dir, "aligned");
    for (const size of [DIO_ALIGN, 1024 * 1024, 3 * DIO_ALIGN]) {
      const buf = io.allocate(size);
      expect(buf.length).toBe(size);
      buf.fill(size % 251);
      expect(io.congruent(buf, 0)).toBe(true);
      expect(directWriteWorks(file, buf, 0)).toBe(true);
      expect(readFileSync(file).subarray(0, size).equals(buf)).toBe(true);
    }
  });

  it("matches a view to the file offset it may be written at", () => {
    if (!io) return;
    const slab = io.allocate(4 * DIO_ALIGN);
    const view = slab.subarray(100);
    expect(io.congruent(view, 100)).toBe(true);
    expect(io.congruent(view, DIO_ALIGN + 100)).toBe(true);
    expect(io.congruent(view, 0)).toBe(false);
    // Its aligned part really is aligned: the block after the first boundary can go direct.
    expect(directWriteWorks(path.join(dir, "view"), slab.subarray(DIO_ALIGN, 2 * DIO_ALIGN), DIO_ALIGN)).toBe(true);
    expect(directWriteWorks(path.join(dir, "view"), slab.subarray(100, 100 + DIO_ALIGN), DIO_ALIGN)).toBe(false);
  });

  it("knows nothing of memory it did not allocate", () => {
    if (!io) return;
    expect(io.congruent(Buffer.alloc(DIO_ALIGN), 0)).toBe(false);
  });
});
