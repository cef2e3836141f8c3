import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";

/**
 * Replaces `file` with `data` so a reader (or a restart after a kill) sees the old or the new content,
 * never a torn one. With `durable`, the data and the rename are flushed to the device first.
 */
export async function writeFileAtomic(file: string, data: string, durable: boolean): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(data);
    if (durable) await fh.datasync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (durable) await fsyncDir(path.dirname(file));
}

/** Makes a rename inside `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
