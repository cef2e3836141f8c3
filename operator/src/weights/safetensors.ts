// Structural checks of a safetensors file without reading its tensors: an 8-byte little-endian header
// length, a JSON header, and tensors whose data_offsets tile the rest of the file exactly.
import { open } from "node:fs/promises";

const MAX_HEADER = 100 * 1024 * 1024;

export type HeaderCheck = { ok: true; tensors: string[] } | { ok: false; error: string };

/** Checks a header (the bytes after the 8-byte length) against the file size. Pure. */
export function checkHeader(headerJson: string, fileSize: number, headerLen: number): HeaderCheck {
  let header: unknown;
  try {
    header = JSON.parse(headerJson);
  } catch (err) {
    return { ok: false, error: `header is not JSON: ${(err as Error).message}` };
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    return { ok: false, error: "header is not a JSON object" };
  const dataLen = fileSize - 8 - headerLen;
  const ranges: [number, number][] = [];
  const tensors: string[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (
      typeof t.dtype !== "string" ||
      !Array.isArray(t.shape) ||
      !Array.isArray(t.data_offsets) ||
      t.data_offsets.length !== 2
    ) {
      return { ok: false, error: `tensor ${name} lacks dtype, shape or data_offsets` };
    }
    const [b, e] = t.data_offsets as [unknown, unknown];
    if (typeof b !== "number" || typeof e !== "number" || b < 0 || e < b || e > dataLen) {
      return {
        ok: false,
        error: `tensor ${name} has data_offsets ${JSON.stringify(t.data_offsets)} outside the ${dataLen} data bytes`,
      };
    }
    ranges.push([b, e]);
    tensors.push(name);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  let pos = 0;
  for (const [b, e] of ranges) {
    if (b !== pos)
      return { ok: false, error: `tensor data has a gap or overlap at byte ${pos} (next tensor starts at ${b})` };
    pos = e;
  }
  if (pos !== dataLen)
    return { ok: false, error: `tensors cover ${pos} of ${dataLen} data bytes: the file is truncated or padded` };
  return { ok: true, tensors };
}

export async function checkSafetensorsFile(file: string): Promise<HeaderCheck> {
  let fh;
  try {
    fh = await open(file, "r");
  } catch (err) {
    return { ok: false, error: `cannot open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  try {
    const { size } = await fh.stat();
    if (size < 8) return { ok: false, error: `${size} bytes is too short for a safetensors file` };
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(Math.min(MAX_HEADER, size - 8)))
      return { ok: false, error: `header length ${n} does not fit a ${size}-byte file` };
    const headerLen = Number(n);
    const buf = Buffer.alloc(headerLen);
    await fh.read(buf, 0, headerLen, 8);
    return checkHeader(buf.toString("utf8"), size, headerLen);
  } finally {
    await fh.close();
  }
}
