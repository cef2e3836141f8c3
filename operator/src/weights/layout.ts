// Where things live inside the weights directory (the PVC mount).
//   <dir>/<path>                                  a verified file, exactly as listed by the source
//   <dir>/<path>.incomplete                        the bytes of a file being fetched (parts written in place)
//   <dir>/.deepseek-operator/state-{0,1}.json      per-file records: verified stats, part progress (two
//                                                  slots written in turn; the newer valid one counts)
//   <dir>/.deepseek-operator/complete.json         the completion marker, written last
import path from "node:path";
import { MARKER_FILE, STATE_DIR } from "../api/weights-contract.ts";

export const INCOMPLETE_SUFFIX = ".incomplete";

export function stateDir(dir: string): string {
  return path.join(dir, STATE_DIR);
}
export function stateSlotPaths(dir: string): [string, string] {
  return [path.join(dir, STATE_DIR, "state-0.json"), path.join(dir, STATE_DIR, "state-1.json")];
}
export function markerPath(dir: string): string {
  return path.join(dir, STATE_DIR, MARKER_FILE);
}

/**
 * A repository path as a safe relative path: the listing comes from the network, and a path such as
 * "../../etc/x" or "/abs" must never escape the weights directory.
 */
export function safeRelativePath(p: string): string {
  if (p.length === 0 || p.includes("\0") || p.includes("\\"))
    throw new Error(`unsafe file path in listing: ${JSON.stringify(p)}`);
  const segments = p.split("/");
  if (p.startsWith("/") || segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new Error(`unsafe file path in listing: ${JSON.stringify(p)}`);
  }
  if (segments[0] === STATE_DIR) throw new Error(`listing path collides with the downloader's own folder: ${p}`);
  if (p.endsWith(INCOMPLETE_SUFFIX)) throw new Error(`listing path collides with the staging suffix: ${p}`);
  return p;
}

export function finalPath(dir: string, rel: string): string {
  return path.join(dir, ...safeRelativePath(rel).split("/"));
}
export function incompletePath(dir: string, rel: string): string {
  return finalPath(dir, rel) + INCOMPLETE_SUFFIX;
}
