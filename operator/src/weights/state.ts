// The downloader's memory between runs: which files it verified (with the stat that proves they are
// untouched) and how far each partial file got. Losing it costs time (re-hash, re-fetch), never
// correctness: every file is checked against the source's hash before it is put in place.
//
// It is rewritten many times a second while gigabytes stream to disk, so it avoids what queues behind
// that I/O: no threadpool (the writes are synchronous and small), no rename (ext4 makes a rename over
// an existing file wait for the journal, which a busy disk holds for tens of milliseconds). Instead two
// slots are overwritten in place in turn, each carrying a sequence number: a kill mid-write tears at
// most the slot being written, and the loader takes the newest slot that parses.
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { stateDir, stateSlotPaths } from "./layout.ts";
import type { PartialRecord, VerifiedRecord } from "./plan.ts";

type StateFile = {
  version: 1;
  seq: number;
  verified: Record<string, VerifiedRecord>;
  partial: Record<string, PartialRecord>;
};

/** Slots are padded to whole pages so a rewrite overwrites the same blocks instead of allocating. */
const PAGE = 4096;

export class StateStore {
  readonly dir: string;
  verified: Record<string, VerifiedRecord> = {};
  partial: Record<string, PartialRecord> = {};
  private seq = 0;
  private dirty = false;
  private readonly fds: (number | undefined)[] = [undefined, undefined];
  private readonly sizes = [0, 0];

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Loads the state of `dir`; missing or torn slots are skipped (the state is only a cache). */
  static async load(dir: string): Promise<StateStore> {
    const s = new StateStore(dir);
    await mkdir(stateDir(dir), { recursive: true });
    for (const p of stateSlotPaths(dir)) {
      try {
        const raw = JSON.parse(await readFile(p, "utf8")) as Partial<StateFile>;
        if (raw.version === 1 && typeof raw.seq === "number" && raw.seq >= s.seq) {
          s.seq = raw.seq;
          s.verified = raw.verified ?? {};
          s.partial = raw.partial ?? {};
        }
      } catch {
        // No such slot yet, or one torn by a kill mid-write: the other slot has the previous state.
      }
    }
    return s;
  }

  markDirty(): void {
    this.dirty = true;
  }

  /** Writes the state into the older slot if it changed. */
  save(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.seq++;
    const slot = this.seq % 2;
    const snapshot: StateFile = { version: 1, seq: this.seq, verified: this.verified, partial: this.partial };
    const json = JSON.stringify(snapshot);
    const len = Math.ceil((Buffer.byteLength(json) + 1) / PAGE) * PAGE;
    const buf = Buffer.alloc(len, 0x20);
    buf.write(json, 0, "utf8");
    buf[len - 1] = 0x0a;
    let fd = this.fds[slot];
    if (fd === undefined) {
      fd = openSync(stateSlotPaths(this.dir)[slot]!, "w");
      this.fds[slot] = fd;
    }
    writeSync(fd, buf, 0, len, 0);
    if (this.sizes[slot]! > len) ftruncateSync(fd, len);
    this.sizes[slot] = len;
  }

  /** Saves pending changes and releases the slot files. */
  close(): void {
    try {
      this.save();
    } finally {
      for (const [i, fd] of this.fds.entries()) {
        if (fd !== undefined) closeSync(fd);
        this.fds[i] = undefined;
      }
    }
  }
}
