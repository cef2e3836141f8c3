// What to fetch, given what the source lists and what is already on disk. Pure functions only: the
// downloader feeds them stat results and its state file, and acts on the answer.

/** A byte range [start, end). */
export type Range = { start: number; end: number };

export function splitParts(size: number, partSize: number): Range[] {
  if (!(partSize > 0)) throw new Error(`part size must be positive, got ${partSize}`);
  if (size === 0) return [{ start: 0, end: 0 }];
  const parts: Range[] = [];
  for (let start = 0; start < size; start += partSize) parts.push({ start, end: Math.min(size, start + partSize) });
  return parts;
}

/** The ranges still to fetch when part i already has `received[i]` bytes from its start on disk. */
export function remainingRanges(size: number, partSize: number, received: readonly number[]): Range[] {
  const parts = splitParts(size, partSize);
  if (received.length !== parts.length) throw new Error(`state has ${received.length} parts, expected ${parts.length}`);
  const out: Range[] = [];
  parts.forEach((p, i) => {
    const got = Math.min(received[i]!, p.end - p.start);
    if (p.start + got < p.end) out.push({ start: p.start + got, end: p.end });
  });
  return out;
}

export function sumReceived(size: number, partSize: number, received: readonly number[]): number {
  const parts = splitParts(size, partSize);
  return parts.reduce((acc, p, i) => acc + Math.min(received[i] ?? 0, p.end - p.start), 0);
}

/** What the source says a file must be. A listing gives a sha256 for LFS files and a git blob id for the rest. */
export type Expected = { path: string; size: number; sha256: string | null; gitOid: string | null };

/** A file verified in an earlier run; its stat lets later runs trust it without hashing it again. */
export type VerifiedRecord = { size: number; mtimeMs: number; sha256: string; gitOid: string | null };

/** A download in progress: which part size it used and how many bytes of each part are on disk. */
export type PartialRecord = {
  size: number;
  sha256: string | null;
  gitOid: string | null;
  partSize: number;
  received: number[];
};

export type LocalEvidence = {
  finalStat?: { size: number; mtimeMs: number } | undefined;
  record?: VerifiedRecord | undefined;
  partial?: PartialRecord | undefined;
  /** Size of the `.incomplete` file, if there is one: it must hold every byte the state claims. */
  incompleteSize?: number | undefined;
};

export type FileDecision =
  | { action: "skip" } // verified earlier and untouched since
  | { action: "hash" } // a file of the right size is in place but was never verified here: check it, do not fetch it
  | { action: "resume"; partSize: number; received: number[] }
  | { action: "fresh"; partSize: number; replaceFinal: boolean };

function sameIdentity(a: { sha256: string | null; gitOid: string | null }, e: Expected): boolean {
  if (e.sha256) return a.sha256 === e.sha256;
  if (e.gitOid) return a.gitOid === e.gitOid;
  return false;
}

export function decideFile(expected: Expected, partSize: number, local: LocalEvidence): FileDecision {
  const { finalStat, record, partial } = local;
  if (finalStat) {
    const recordMatches =
      record !== undefined &&
      record.size === finalStat.size &&
      record.mtimeMs === finalStat.mtimeMs &&
      record.size === expected.size &&
      sameIdentity(record, expected);
    if (recordMatches) return { action: "skip" };
    if (finalStat.size === expected.size) return { action: "hash" };
    return { action: "fresh", partSize, replaceFinal: true };
  }
  if (
    partial &&
    partial.size === expected.size &&
    sameIdentity(partial, expected) &&
    local.incompleteSize !== undefined
  ) {
    const parts = splitParts(partial.size, partial.partSize);
    if (parts.length === partial.received.length) {
      const furthest = parts.reduce(
        (acc, p, i) => (partial.received[i]! > 0 ? Math.max(acc, p.start + partial.received[i]!) : acc),
        0,
      );
      if (furthest <= local.incompleteSize)
        return { action: "resume", partSize: partial.partSize, received: [...partial.received] };
    }
  }
  return { action: "fresh", partSize, replaceFinal: false };
}

/** A file's schedule as seen by the picker. */
export type Schedulable = { pending: number[]; inFlight: number };

/**
 * Picks the next part to fetch: from the file with the fewest parts in flight, earliest file first.
 * While there are more files than connections each file streams one part at a time, so its hash is
 * computed in order from memory and a kill loses at most the part in flight; near the end, the last
 * files are split across the idle connections.
 */
export function pickNextPart(files: readonly Schedulable[]): { file: number; part: number } | null {
  let best = -1;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    if (f.pending.length === 0) continue;
    if (best < 0 || f.inFlight < files[best]!.inFlight) best = i;
  }
  if (best < 0) return null;
  return { file: best, part: files[best]!.pending[0]! };
}

/** Bytes the disk must still take: the remaining bytes of every file not yet complete. */
export function bytesStillNeeded(files: readonly { size: number; onDisk: number; done: boolean }[]): number {
  return files.reduce((acc, f) => acc + (f.done ? 0 : Math.max(0, f.size - f.onDisk)), 0);
}
