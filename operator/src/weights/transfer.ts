// Fetches one part of one file: a ranged GET that streams into the staging file at the right offset,
// feeds the in-order hasher, gives up on a stalled socket, and retries transient failures from the
// last byte written (a retry never fetches a written byte again).
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { StallError, WeightsError } from "./errors.ts";
import type { FileJob } from "./file-job.ts";
import { stallWatch, type HttpClient } from "./http.ts";
import { PositionalWriter } from "./positional-writer.ts";
import { backoffDelayMs, classify, type RetryPolicy } from "./retry.ts";
import { headerValue, type Source } from "./source.ts";

export type TransferContext = {
  http: HttpClient;
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

export async function fetchPart(ctx: TransferContext, job: FileJob, part: number): Promise<void> {
  const p = job.parts[part]!;
  let attempt = 0;
  for (;;) {
    const start = p.start + job.received[part]!;
    if (start >= p.end) return;
    try {
      await transferRange(ctx, job, part, start, p.end);
      return;
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const c = classify(err);
      if (c.kind === "permanent") throw new WeightsError(c.reason, `${job.file.path}: ${c.message}`, { cause: err });
      // A transfer that moved bytes before failing starts a fresh count: only failures in a row give up.
      if (p.start + job.received[part]! > start) attempt = 0;
      attempt++;
      if (attempt >= ctx.retry.maxAttempts) {
        throw new WeightsError(c.reason, `${job.file.path} bytes ${start}-${p.end - 1}: gave up after ${attempt} attempts: ${c.message}`, { cause: err });
      }
      const delay = backoffDelayMs(ctx.retry, attempt, ctx.random(), c.retryAfterMs);
      ctx.log.warn({ file: job.file.path, part, attempt, delayMs: Math.round(delay), reason: c.reason, err: c.message }, "transfer failed; retrying from the last byte written");
      await sleep(delay, undefined, { signal: ctx.signal }).catch(() => {
        throw ctx.signal.reason;
      });
    }
  }
}

async function transferRange(ctx: TransferContext, job: FileJob, part: number, start: number, end: number): Promise<void> {
  const { file } = job;
  const fh = await job.open();
  const res = await ctx.http.request(file.url, {
    token: ctx.source.token,
    signal: ctx.signal,
    headers: { range: `bytes=${start}-${end - 1}` },
    accept: [200, 206],
  });
  const watch = stallWatch(ctx.http.stallSeconds * 1000, () => res.body.destroy(new StallError(res.url, ctx.http.stallSeconds)));
  const writer = new PositionalWriter(fh, start, (n) => ctx.onWritten(job, part, n));
  let offset = start;
  let failure: unknown;
  try {
    ctx.source.checkTransfer(file, { first: res.firstHeaders, final: res.headers }, ctx.commit);
    // A server that ignores Range answers 200 with the whole file: skip what we already have.
    let skip = 0;
    if (res.status === 206) {
      const cr = headerValue(res.headers, "content-range") ?? "";
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
      if (!m || Number(m[1]) !== start) throw new Error(`${file.path}: asked for bytes ${start}-${end - 1}, got Content-Range ${JSON.stringify(cr)}`);
    } else {
      skip = start;
    }
    for await (const raw of res.body as AsyncIterable<Buffer>) {
      watch.touch();
      let chunk = raw;
      if (skip > 0) {
        const s = Math.min(skip, chunk.length);
        skip -= s;
        chunk = chunk.subarray(s);
        if (chunk.length === 0) continue;
      }
      if (offset + chunk.length > end) chunk = chunk.subarray(0, end - offset);
      job.hasher.offer(offset, chunk);
      offset += chunk.length;
      ctx.onFetched(chunk.length);
      const wait = writer.write(chunk);
      if (wait) await wait;
      // Only a whole-file 200 runs past the range; a 206 ends exactly there and keeps its connection.
      if (offset >= end && res.status === 200) break;
    }
  } catch (err) {
    failure = err;
  } finally {
    watch.stop();
  }
  // Whatever arrived is written before anyone retries, so the retry starts after it. A write error
  // (ENOSPC) thrown here outranks the network error that may have come with it.
  await writer.flush();
  if (failure !== undefined) throw failure;
  if (offset < end) {
    const err = new Error(`${file.path}: connection closed after ${offset - start} of ${end - start} bytes`) as NodeJS.ErrnoException;
    err.code = "ERR_STREAM_PREMATURE_CLOSE";
    throw err;
  }
}
