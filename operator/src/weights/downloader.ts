// `weights pull`: list the revision, keep what is verified on disk, fetch the rest in ranged parts over
// a few connections, verify every file against the source's sha256 before it takes its final name,
// and write the completion marker only when all of them are in place.
import { randomInt } from "node:crypto";
import os from "node:os";
import { lstat, open, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { fsyncDir } from "./atomic-file.ts";
import { FREE_SPACE_MARGIN, formatBytes, statfsFreeSpace, type FreeSpace } from "./disk.ts";
import { WeightsError } from "./errors.ts";
import { FileJob, type HashFactory } from "./file-job.ts";
import { DirectIo } from "./direct-io.ts";
import { HashPool } from "./hash-pool.ts";
import { hashFile, localHash } from "./hasher.ts";
import type { HttpClient } from "./http.ts";
import { finalPath, incompletePath } from "./layout.ts";
import { readMarker, removeMarker, writeMarker, type Marker } from "./marker.ts";
import { bytesStillNeeded, decideFile, pickNextPart, type FileDecision, type VerifiedRecord } from "./plan.ts";
import type { ProgressTracker } from "./progress.ts";
import { backoffDelayMs, classify, DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import type { Listing, RemoteFile, Source } from "./source.ts";
import { StateStore } from "./state.ts";
import { fetchPart, type TransferContext } from "./transfer.ts";
import { RangeClient, type Ranges } from "./range-client.ts";
import { proxyConfigured, UndiciRangeClient } from "./undici-ranges.ts";
import { asError } from "../util/errors.ts";

export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 8;

export type PullOptions = {
  dir: string;
  repo: string;
  revision: string;
  source: Source;
  http: HttpClient;
  progress: ProgressTracker;
  log: Logger;
  concurrency?: number;
  partSize?: number;
  /** Overall deadline; 0 or undefined means none (the stall timeout still bounds every transfer). */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Full re-fetches of one file after checksum mismatches before giving up. */
  maxChecksumRetries?: number;
  freeSpace?: FreeSpace;
  /** How often part progress is persisted at the least: what a kill can make a restart fetch again. */
  stateSaveIntervalMs?: number;
  /** Persist part progress also after this many bytes written, so a fast link risks no more than this. */
  stateSaveBytes?: number;
  random?: () => number;
  /** Stops the run (SIGTERM): state is saved, nothing is reported as failed. */
  signal?: AbortSignal;
  /** Worker threads for sha256 (default: the CPUs available but one, 1 to 4); 0 hashes on the main thread. */
  hashThreads?: number;
  /** O_DIRECT writes where the filesystem takes them (default true; env DSO_DIRECT_IO=0 turns them off). */
  directIo?: boolean;
};

export type PullResult =
  | { ok: true; marker: Marker; fetchedBytes: number; skippedFiles: number }
  | { ok: false; error: WeightsError; fetchedBytes: number }
  | { ok: false; aborted: true; fetchedBytes: number };

const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** Wakes workers waiting for a part to become available (a re-queue after a mismatch, a file finishing). */
class Wakeup {
  private waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

async function statOrUndefined(p: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const s = await stat(p);
    return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

function matchesRecord(
  st: { size: number; mtimeMs: number } | undefined,
  rec: VerifiedRecord | undefined,
  sha256: string,
): boolean {
  return (
    st !== undefined && rec !== undefined && rec.size === st.size && rec.mtimeMs === st.mtimeMs && rec.sha256 === sha256
  );
}

export async function pullWeights(opts: PullOptions): Promise<PullResult> {
  const log = opts.log;
  const progress = opts.progress;
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  const retry = opts.retry ?? DEFAULT_RETRY;
  const random = opts.random ?? (() => randomInt(0, 1_000_000) / 1_000_000);
  const freeSpace = opts.freeSpace ?? statfsFreeSpace;
  const maxChecksumRetries = opts.maxChecksumRetries ?? 2;

  // One controller for the whole run: the deadline, a fatal error in any transfer, or the caller's
  // signal stops every transfer at once.
  const run = new AbortController();
  const onOuterAbort = () => run.abort(opts.signal?.reason ?? new Error("aborted"));
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
  let deadline: NodeJS.Timeout | undefined;
  if (opts.timeoutMs && opts.timeoutMs > 0) {
    deadline = setTimeout(
      () =>
        run.abort(
          new WeightsError("Timeout", `the download did not finish within ${opts.timeoutMs! / 1000} s (--timeout)`),
        ),
      opts.timeoutMs,
    );
  }

  const state = await StateStore.load(opts.dir);
  const saveState = () => {
    try {
      state.save();
    } catch (err) {
      log.warn({ err: (err as Error).message }, "could not save download state");
    }
  };
  const saver = setInterval(saveState, opts.stateSaveIntervalMs ?? 250);
  let fetchedBytes = 0;
  let ranges: Ranges | undefined;
  let directIo: DirectIo | null = null;
  // Hash threads: a JS thread hashes ~1.5 GB/s at best and also drives every socket; one CPU is left
  // to that thread. Started once the run is known not to be complete already, so that a thread's boot
  // overlaps the listing instead of delaying the first file's hash.
  let pool: HashPool | undefined;
  const hashThreads =
    opts.hashThreads ??
    (process.env.DSO_HASH_THREADS
      ? Number(process.env.DSO_HASH_THREADS)
      : Math.max(1, Math.min(4, os.availableParallelism() - 1)));
  const makeHash: HashFactory = (size, gitBlob) => {
    if (hashThreads === 0) return localHash(size, gitBlob);
    pool ??= new HashPool(hashThreads);
    return pool.create(size, gitBlob);
  };
  progress.start();
  try {
    await progress.setPhase("Listing", `listing ${opts.source.description}`);

    const shortcut = await completeAlready(opts, state);
    if (shortcut) {
      progress.bytesTotal = progress.bytesDone = shortcut.totalBytes;
      progress.filesTotal = progress.filesDone = shortcut.files.length;
      await progress.setPhase(
        "Complete",
        `already complete and verified (${shortcut.files.length} files, ${formatBytes(shortcut.totalBytes)})`,
        opts.revision,
      );
      return { ok: true, marker: shortcut, fetchedBytes: 0, skippedFiles: shortcut.files.length };
    }
    if (hashThreads > 0) pool = new HashPool(hashThreads);

    const listing = await withRetry(() => opts.source.list(run.signal), retry, random, run.signal, log, "listing");
    const files = listing.files;
    progress.bytesTotal = files.reduce((a, f) => a + f.size, 0);
    progress.filesTotal = files.length;
    log.info({ files: files.length, bytes: progress.bytesTotal, commit: listing.commit }, "listed the revision");

    // Decide per file from what is on disk.
    const decisions = await Promise.all(
      files.map(async (f): Promise<FileDecision> => {
        const incomplete = await statOrUndefined(incompletePath(opts.dir, f.path));
        return decideFile(f, partSize, {
          finalStat: await statOrUndefined(finalPath(opts.dir, f.path)),
          record: state.verified[f.path],
          partial: state.partial[f.path],
          incompleteSize: incomplete?.size,
        });
      }),
    );
    const willWrite = decisions.some((d) => d.action !== "skip");
    if (willWrite) await removeMarker(opts.dir);

    // Files in place but never verified here (a PVC filled by other means): check them, do not fetch them.
    const toHash = files.filter((_, i) => decisions[i]!.action === "hash");
    if (toHash.length > 0) {
      await progress.setPhase("Verifying", `checking ${toHash.length} files already on disk`, null);
      await mapLimit(toHash, concurrency, async (f) => {
        const ok = await verifyInPlace(opts.dir, f, state);
        const i = files.indexOf(f);
        decisions[i] = ok ? { action: "skip" } : { action: "fresh", partSize, replaceFinal: true };
        if (!ok) log.warn({ file: f.path }, "file on disk does not match the listing; fetching it again");
      });
    }

    const jobs: FileJob[] = [];
    let skipped = 0;
    for (const [i, f] of files.entries()) {
      const d = decisions[i]!;
      if (d.action === "skip") {
        skipped++;
        progress.bytesDone += f.size;
        progress.filesDone++;
        continue;
      }
      if (d.action === "fresh" && d.replaceFinal) await unlink(finalPath(opts.dir, f.path)).catch(() => undefined);
      const job = new FileJob(
        f,
        opts.dir,
        d.action === "resume" ? d.partSize : partSize,
        d.action === "resume" ? d.received : null,
        makeHash,
      );
      progress.bytesDone += job.bytesOnDisk;
      state.partial[f.path] = job.record();
      delete state.verified[f.path];
      jobs.push(job);
    }
    state.markDirty();

    if (jobs.length > 0) {
      const needed = bytesStillNeeded(jobs.map((j) => ({ size: j.file.size, onDisk: j.bytesOnDisk, done: false })));
      const free = await freeSpace(opts.dir);
      if (needed + FREE_SPACE_MARGIN > free) {
        throw new WeightsError(
          "DiskFull",
          `${opts.dir} has ${formatBytes(free)} free, the download needs ${formatBytes(needed)} more (plus ${formatBytes(FREE_SPACE_MARGIN)} headroom)`,
        );
      }
      await progress.setPhase(
        "Downloading",
        `fetching ${jobs.length} of ${files.length} files (${formatBytes(needed)}) from ${opts.source.description}; ${skipped} already verified`,
        null,
      );
      // Opened only when there is something to write: a run that finds everything in place writes nothing.
      directIo = (opts.directIo ?? process.env.DSO_DIRECT_IO !== "0") ? await DirectIo.open(opts.dir) : null;
      const io = directIo;
      log.info({ directIo: io !== null }, io ? "writing with O_DIRECT" : "writing through the page cache");
      const rangeOpts = {
        stallTimeoutMs: opts.http.stallSeconds * 1000,
        ...(io ? { allocate: (n: number) => io.allocate(n) } : {}),
      };
      // Behind a proxy, undici speaks to it (CONNECT, NO_PROXY); otherwise the socket client, which reads
      // into the slabs without a copy (docs/weights.md has both rates). DSO_RANGE_CLIENT picks one by hand.
      const viaUndici =
        process.env.DSO_RANGE_CLIENT === "undici" || (process.env.DSO_RANGE_CLIENT !== "socket" && proxyConfigured());
      ranges = viaUndici
        ? new UndiciRangeClient({ ...rangeOpts, connections: concurrency + 2 })
        : new RangeClient(rangeOpts);
      log.info({ rangeClient: viaUndici ? "undici" : "socket" }, "range client chosen");
      fetchedBytes = await downloadAll(jobs, {
        ranges,
        directIo,
        source: opts.source,
        commit: listing.commit,
        retry,
        random,
        signal: run.signal,
        log,
        concurrency,
        maxChecksumRetries,
        state,
        stateSaveBytes: opts.stateSaveBytes ?? 8 * 1024 * 1024,
        saveState,
        progress,
        abort: (err) => run.abort(err),
      });
    }

    await progress.setPhase("Verifying", "all files verified; writing the completion marker");
    const marker = await finish(opts, listing, state);
    await progress.setPhase(
      "Complete",
      `${files.length} files, ${formatBytes(progress.bytesTotal)} verified (sha256)`,
      opts.revision,
    );
    return { ok: true, marker, fetchedBytes, skippedFiles: skipped };
  } catch (err) {
    const reason: unknown = run.signal.aborted ? run.signal.reason : err;
    if (opts.signal?.aborted && !(reason instanceof WeightsError && reason.reason === "Timeout")) {
      log.warn("stopped by signal; progress saved, the next run resumes");
      return { ok: false, aborted: true, fetchedBytes };
    }
    const werr = toWeightsError(reason);
    await progress.fail(werr.reason, werr.message);
    return { ok: false, error: werr, fetchedBytes };
  } finally {
    clearTimeout(deadline);
    clearInterval(saver);
    ranges?.close();
    await directIo?.close();
    await pool?.close();
    opts.signal?.removeEventListener("abort", onOuterAbort);
    progress.stop();
    state.markDirty();
    try {
      state.close();
    } catch (err) {
      log.warn({ err: (err as Error).message }, "could not save download state");
    }
  }
}

function toWeightsError(err: unknown): WeightsError {
  if (err instanceof WeightsError) return err;
  const c = classify(err);
  return new WeightsError(c.reason, c.message, { cause: err });
}

/** With a commit sha pinned, a marker for it whose files are untouched needs no network at all. */
async function completeAlready(opts: PullOptions, state: StateStore): Promise<Marker | undefined> {
  if (!COMMIT_SHA.test(opts.revision)) return undefined;
  const m = await readMarker(opts.dir);
  if (!m || m.repo !== opts.repo || m.revision !== opts.revision) return undefined;
  for (const f of m.files) {
    if (!matchesRecord(await statOrUndefined(finalPath(opts.dir, f.path)), state.verified[f.path], f.sha256))
      return undefined;
  }
  return m;
}

async function verifyInPlace(dir: string, f: RemoteFile, state: StateStore): Promise<boolean> {
  const p = finalPath(dir, f.path);
  const fh = await open(p, "r");
  try {
    const { sha256, gitOid } = await hashFile(fh, f.size, f.sha256 === null);
    const ok = f.sha256 ? sha256 === f.sha256 : gitOid === f.gitOid;
    if (ok) {
      const st = await fh.stat();
      state.verified[f.path] = { size: st.size, mtimeMs: st.mtimeMs, sha256, gitOid };
      delete state.partial[f.path];
      state.markDirty();
    }
    return ok;
  } finally {
    await fh.close();
  }
}

type DownloadContext = Omit<TransferContext, "onWritten" | "onFetched"> & {
  concurrency: number;
  maxChecksumRetries: number;
  state: StateStore;
  stateSaveBytes: number;
  saveState: () => void;
  progress: ProgressTracker;
  abort: (err: unknown) => void;
};

/** Runs `concurrency` workers over the parts of all jobs until every file is in place. */
async function downloadAll(jobs: FileJob[], ctx: DownloadContext): Promise<number> {
  let fetched = 0;
  const wake = new Wakeup();
  const finalizers = new Set<Promise<void>>();
  /** Parts whose bytes all arrived, while their last writes finish. */
  const writes = new Set<Promise<void>>();
  let fatal: Error | undefined;
  let unsaved = 0;
  const tctx: TransferContext = {
    ...ctx,
    onFetched: (n) => {
      fetched += n;
      ctx.progress.fetched += n;
    },
    onWritten: (job, part, n) => {
      job.received[part]! += n;
      ctx.progress.bytesDone += n;
      ctx.state.markDirty();
      unsaved += n;
      if (unsaved >= ctx.stateSaveBytes) {
        unsaved = 0;
        ctx.saveState();
      }
      job.kickHash();
    },
  };
  const failWith = (err: unknown) => {
    fatal ??= asError(err);
    ctx.abort(err);
    wake.notify();
  };

  const finalize = async (job: FileJob) => {
    const { sha256, gitOid } = await job.hashed();
    const ok = job.file.sha256 ? sha256 === job.file.sha256 : job.file.gitOid ? gitOid === job.file.gitOid : true;
    if (!ok) {
      job.checksumFailures++;
      const expected = job.file.sha256 ?? `git ${job.file.gitOid}`;
      ctx.log.warn(
        { file: job.file.path, expected, got: job.file.sha256 ? sha256 : gitOid, attempt: job.checksumFailures },
        "checksum mismatch; deleting the bytes and fetching the file again",
      );
      ctx.progress.bytesDone -= job.bytesOnDisk;
      await job.reset();
      ctx.state.partial[job.file.path] = job.record();
      ctx.state.markDirty();
      if (job.checksumFailures > ctx.maxChecksumRetries) {
        throw new WeightsError(
          "ChecksumMismatch",
          `${job.file.path}: sha256 did not match the listing after ${job.checksumFailures} full downloads (expected ${expected}, got ${sha256})`,
        );
      }
      return;
    }
    await job.flush();
    await job.close();
    await rename(job.incompletePath, job.finalPath);
    const st = await stat(job.finalPath);
    ctx.state.verified[job.file.path] = { size: st.size, mtimeMs: st.mtimeMs, sha256, gitOid };
    delete ctx.state.partial[job.file.path];
    ctx.state.markDirty();
    job.done = true;
    ctx.progress.filesDone++;
    ctx.log.info({ file: job.file.path, bytes: job.file.size, sha256 }, "file verified and in place");
  };

  const startFinalize = (job: FileJob) => {
    const p: Promise<void> = finalize(job)
      .catch(failWith)
      .finally(() => {
        finalizers.delete(p);
        wake.notify();
      });
    finalizers.add(p);
  };

  // Empty files have nothing to fetch.
  for (const job of jobs) if (job.settled) startFinalize(job);

  const worker = async () => {
    while (fatal === undefined) {
      const pick = pickNextPart(jobs);
      if (!pick) {
        if (jobs.every((j) => j.done)) return;
        await wake.wait();
        continue;
      }
      const job = jobs[pick.file]!;
      job.pending.shift();
      job.inFlight++;
      let written: Promise<void>;
      try {
        ({ written } = await fetchPart(tctx, job, pick.part));
      } catch (err) {
        failWith(err);
        return;
      } finally {
        job.inFlight--;
      }
      // The part's last writes finish in the background while this connection takes the next part.
      job.writing++;
      const w: Promise<void> = written
        .finally(() => job.writing--)
        .then(
          () => {
            if (job.settled) startFinalize(job);
          },
          (err: unknown) => failWith(toWeightsError(err)),
        )
        .finally(() => {
          writes.delete(w);
          wake.notify();
        });
      writes.add(w);
    }
  };
  await Promise.all(Array.from({ length: ctx.concurrency }, worker));
  while (writes.size > 0 || finalizers.size > 0) await Promise.all([...writes, ...finalizers]);
  await Promise.all(jobs.map((j) => j.close()));
  if (fatal !== undefined) throw fatal;
  return fetched;
}

/** Makes the renames durable, then writes the marker (the last write of a successful run). */
async function finish(opts: PullOptions, listing: Listing, state: StateStore): Promise<Marker> {
  const dirs = new Set(listing.files.map((f) => path.dirname(finalPath(opts.dir, f.path))));
  for (const d of dirs) await fsyncDir(d);
  const files = listing.files.map((f) => {
    const rec = state.verified[f.path];
    if (!rec) throw new Error(`${f.path} has no verification record`);
    return { path: f.path, size: f.size, sha256: rec.sha256 };
  });
  // Every file must still be the one verified: a file changed under us voids the run.
  for (const f of files) {
    const st = await lstat(finalPath(opts.dir, f.path));
    const rec = state.verified[f.path]!;
    if (st.size !== rec.size || st.mtimeMs !== rec.mtimeMs)
      throw new WeightsError("ChecksumMismatch", `${f.path} changed on disk after it was verified`);
  }
  const marker: Marker = {
    version: 1,
    repo: opts.repo,
    revision: opts.revision,
    commit: listing.commit,
    verifiedAgainst: opts.source.kind === "hub" ? "hub" : "manifest",
    source: opts.source.description,
    files,
    totalBytes: files.reduce((a, f) => a + f.size, 0),
    completedAt: new Date().toISOString(),
  };
  state.markDirty();
  state.save();
  await writeMarker(opts.dir, marker);
  return marker;
}

async function withRetry<T>(
  fn: () => Promise<T>,
  retry: RetryPolicy,
  random: () => number,
  signal: AbortSignal,
  log: Logger,
  what: string,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const c = classify(err);
      if (c.kind === "permanent" || attempt >= retry.maxAttempts)
        throw new WeightsError(c.reason, `${what}: ${c.message}`, { cause: err });
      const delay = backoffDelayMs(retry, attempt, random(), c.retryAfterMs);
      log.warn({ attempt, delayMs: Math.round(delay), err: c.message }, `${what} failed; retrying`);
      await sleep(delay, undefined, { signal }).catch(() => {
        throw signal.reason;
      });
    }
  }
}

async function mapLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
    }),
  );
}
