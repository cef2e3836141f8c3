// The completion marker: written last, only when every file is in place and verified, and removed
// before a run changes any file. Engine pods start only when it is there.
import { readFile, unlink } from "node:fs/promises";
import { writeFileAtomic } from "./atomic-file.ts";
import { markerPath } from "./layout.ts";

export type MarkerFile = { path: string; size: number; sha256: string };

export type Marker = {
  version: 1;
  repo: string;
  /** The revision as asked for (what the weights-verified annotation carries). */
  revision: string;
  /** The commit the revision resolved to, when the source has commits. */
  commit: string | null;
  /** What the files were checked against. */
  verifiedAgainst: "hub" | "manifest" | "structure";
  source: string;
  files: MarkerFile[];
  totalBytes: number;
  completedAt: string;
};

export async function readMarker(dir: string): Promise<Marker | undefined> {
  let text: string;
  try {
    text = await readFile(markerPath(dir), "utf8");
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as Marker;
    if (m.version !== 1 || !Array.isArray(m.files) || typeof m.revision !== "string") return undefined;
    return m;
  } catch {
    return undefined;
  }
}

export async function writeMarker(dir: string, m: Marker): Promise<void> {
  await writeFileAtomic(markerPath(dir), JSON.stringify(m, null, 2) + "\n", true);
}

export async function removeMarker(dir: string): Promise<void> {
  await unlink(markerPath(dir)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}
