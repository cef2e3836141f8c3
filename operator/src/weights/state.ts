// The downloader's memory between runs: which files it verified (with the stat that proves they are
// untouched) and how far each partial file got. Losing it costs time (re-hash, re-fetch), never
// correctness: every file is checked against the source's hash before it is put in place.
import { mkdir, readFile } from "node:fs/promises";
import { writeFileAtomic } from "./atomic-file.ts";
import { stateDir, statePath } from "./layout.ts";
import type { PartialRecord, VerifiedRecord } from "./plan.ts";

type StateFile = {
  version: 1;
  verified: Record<string, VerifiedRecord>;
  partial: Record<string, PartialRecord>;
};

export class StateStore {
  readonly dir: string;
  verified: Record<string, VerifiedRecord> = {};
  partial: Record<string, PartialRecord> = {};
  private saving: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private dirty = false;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Loads the state of `dir`; a missing or unreadable state file starts empty (it is only a cache). */
  static async load(dir: string): Promise<StateStore> {
    const s = new StateStore(dir);
    await mkdir(stateDir(dir), { recursive: true });
    try {
      const raw = JSON.parse(await readFile(statePath(dir), "utf8")) as Partial<StateFile>;
      if (raw.version === 1) {
        s.verified = raw.verified ?? {};
        s.partial = raw.partial ?? {};
      }
    } catch {
      // No state yet, or a state from a crash mid-write of an older format: start over.
    }
    return s;
  }

  markDirty(): void {
    this.dirty = true;
  }

  /**
   * Writes the state if it changed. Saves never overlap: at most one runs and one waits, and the one
   * that waits takes its snapshot when it starts, so it carries every change made before then.
   */
  save(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.saving
      .catch(() => undefined)
      .then(async () => {
        this.queued = undefined;
        if (!this.dirty) return;
        this.dirty = false;
        const snapshot: StateFile = { version: 1, verified: this.verified, partial: this.partial };
        await writeFileAtomic(statePath(this.dir), JSON.stringify(snapshot), false);
      });
    this.queued = next;
    this.saving = next;
    return next;
  }
}
