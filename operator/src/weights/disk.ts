import { statfs } from "node:fs/promises";

/** Bytes an unprivileged writer can still put on the filesystem holding `dir`. */
export type FreeSpace = (dir: string) => Promise<number>;

export const statfsFreeSpace: FreeSpace = async (dir) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

/** Headroom kept free beyond the bytes to fetch: the state file, the marker, filesystem metadata. */
export const FREE_SPACE_MARGIN = 64 * 1024 * 1024;

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(2)} ${units[u]}`;
}
