// Fetches one part of one file: a ranged GET that streams into the staging file at the right offset,
// feeds the in-order hasher, gives up on a stalled socket (RangeClient's watchdog), and retries
// transient failures from the last byte written (a retry never fetches a written byte again).
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { WeightsError } from "./errors.ts";
import type { DirectIo } from "./direct-io.ts";
import type { FileJob } from "./file-job.ts";
import { PositionalWriter } from "./positional-writer.ts";
import type { Ranges } from "./range-client.ts";
import { backoffDelayMs, classify, type RetryPolicy } from "./retry.ts";
import type { Source } from "./source.ts";
import { asError } from "../util/errors.ts";

export type TransferContext = {
  ranges: Ranges;
  /** Direct writes from the range client's aligned slabs; null where the filesystem refuses them. */
  directIo: DirectIo | null;
  source: Source;
  commit: string | null;
  retry: RetryPolicy;
  random: () => number;
  signal: AbortSignal;
  log: Logger;
  /** Called with bytes as the kernel takes them (resume points and progress). */
  onWritten: (job: FileJob, part: number, bytes: number) => void;
  /** Called with bytes as they arrive from the network (the rate). */
  onFetched: (bytes: number) => void;
};

/**
 * Fetches the part and resolves once all its bytes arrived; the returned promise settles when the last of
 * them is written. The connection can take the next part meanwhile instead of idling while the device
 * catches up; a write error surfaces through the returned promise.
 */
export async function fetchPart(ctx: TransferContext, job: FileJob, part: number): Promise<{ written: Promise<void> }> {
  const p = job.parts[part]!;
  let attempt = 0;
  for (;;) {
    const start = p.start + job.received[part]!;
    if (start >= p.end) return { written: Promise.resolve() };
    try {
      return await transferRange(ctx, job, part, start, p.end);
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const c = classify(err);
      if (c.kind === "permanent") throw new WeightsError(c.reason, `${job.file.path}: ${c.message}`, { cause: err });
      // A transfer that moved bytes before failing starts a fresh count: only failures in a row give up.
      if (p.start + job.received[part]! > start) attempt = 0;
      attempt++;
      if (attempt >= ctx.retry.maxAttempts) {
        throw new WeightsError(
          c.reason,
          `${job.file.path} bytes ${start}-${p.end - 1}: gave up after ${attempt} attempts: ${c.message}`,
          { cause: err },
        );
      }
      const delay = backoffDelayMs(ctx.retry, attempt, ctx.random(), c.retryAfterMs);
      ctx.log.warn(
        { file: job.file.path, part, attempt, delayMs: Math.round(delay), reason: c.reason, err: c.message },
        "transfer failed; retrying from the last byte written",
      );
      await sleep(delay, undefined, { signal: ctx.signal }).catch(() => {
        throw ctx.signal.reason;
      });
    }
  }
}

// The writes' promise travels in an object: an async function returning a promise would wait for it.
async function transferRange(
  ctx: TransferContext,
  job: FileJob,
  part: number,
  start: number,
  end: number,
): Promise<{ written: Promise<void> }> {
  const { file } = job;
  const fh = await job.open();
  const dfh = ctx.directIo ? await job.openDirect(ctx.directIo) : undefined;
  const writer = new PositionalWriter(
    fh,
    start,
    (n) => ctx.onWritten(job, part, n),
    dfh && ctx.directIo ? { fh: dfh, io: ctx.directIo } : undefined,
  );
  let failure: Error | undefined;
  try {
    await ctx.ranges.fetch(file.url, start, end, {
      token: ctx.source.token,
      signal: ctx.signal,
      onResponse: (r) => ctx.source.checkTransfer(file, { first: r.firstHeaders, final: r.headers }, ctx.commit),
      onData: (offset, buf, release) => {
        // The slab goes back once both the hasher (which may read it on a worker) and the writer are done.
        let users = 2;
        const done = () => {
          if (--users === 0) release();
        };
        if (!job.hasher.offer(offset, buf, done)) done();
        ctx.onFetched(buf.length);
        return writer.write(buf, done);
      },
    });
  } catch (err) {
    failure = asError(err);
  }
  if (failure === undefined) {
    const written = writer.flush();
    written.catch(() => undefined); // handled by the caller, which may attach a tick later
    return { written };
  }
  // Whatever arrived is written before anyone retries, so the retry starts after it. A write error
  // (ENOSPC) thrown here outranks the network error that may have come with it.
  await writer.flush();
  throw failure;
}
