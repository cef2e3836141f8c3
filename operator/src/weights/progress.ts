// Counts bytes and files, estimates rate and ETA, and pushes a report to every reporter at a fixed
// interval and on each phase change. A slow reporter never blocks the download: while one report is
// in flight, interval ticks are skipped rather than queued.
import type { Logger } from "pino";
import type { FailureReason, Phase, ProgressReport } from "../api/weights-contract.ts";
import { RateEstimator, etaSeconds } from "./rate.ts";

export interface Reporter {
  /** `verified`: a revision to set the weights-verified mark, null to clear it, undefined to leave it. */
  report(report: ProgressReport, verified?: string | null): Promise<void>;
}

/** Structured JSON log lines on stdout (pino). */
export class LogReporter implements Reporter {
  private readonly log: Logger;
  constructor(log: Logger) {
    this.log = log;
  }
  report(r: ProgressReport): Promise<void> {
    const level = r.phase === "Failed" ? "error" : "info";
    this.log[level]({ progress: r }, r.message ?? `weights ${r.phase}`);
    return Promise.resolve();
  }
}

export type Clock = () => number;

export class ProgressTracker {
  phase: Phase = "Listing";
  bytesTotal = 0;
  bytesDone = 0;
  filesTotal = 0;
  filesDone = 0;
  /** Bytes moved over the network in this run: what the rate is about (resumed bytes are not). */
  fetched = 0;
  private reason: FailureReason | undefined;
  private message: string | undefined;
  private readonly repo: string;
  private readonly revision: string;
  private readonly reporters: Reporter[];
  private readonly now: Clock;
  private readonly rate: RateEstimator;
  private readonly intervalMs: number;
  private sampler: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private pending: Promise<void> | undefined;

  constructor(opts: {
    repo: string;
    revision: string;
    reporters: Reporter[];
    intervalMs: number;
    now?: Clock;
    windowMs?: number;
  }) {
    this.repo = opts.repo;
    this.revision = opts.revision;
    this.reporters = opts.reporters;
    this.intervalMs = opts.intervalMs;
    this.now = opts.now ?? Date.now;
    this.rate = new RateEstimator(opts.windowMs ?? 30_000);
  }

  /** Starts sampling the rate and reporting on the interval. */
  start(): void {
    this.rate.add(this.now(), this.fetched);
    const sampleMs = Math.min(1000, this.intervalMs);
    this.sampler = setInterval(() => this.rate.add(this.now(), this.fetched), sampleMs);
    this.ticker = setInterval(() => {
      if (!this.pending) void this.emit(undefined);
    }, this.intervalMs);
    this.sampler.unref();
    this.ticker.unref();
  }

  stop(): void {
    clearInterval(this.sampler);
    clearInterval(this.ticker);
  }

  snapshot(): ProgressReport {
    const bytesPerSecond = this.phase === "Downloading" ? this.rate.bytesPerSecond() : 0;
    let eta: number | null = etaSeconds(this.bytesTotal - this.bytesDone, bytesPerSecond);
    if (this.phase === "Complete") eta = 0;
    if (this.phase === "Failed" || this.phase === "Listing") eta = null;
    const r: ProgressReport = {
      phase: this.phase,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesPerSecond,
      etaSeconds: eta,
      updatedAt: new Date(this.now()).toISOString(),
      repo: this.repo,
      revision: this.revision,
    };
    if (this.reason) r.reason = this.reason;
    if (this.message) r.message = this.message;
    return r;
  }

  /** Moves to `phase` and reports at once. */
  async setPhase(phase: Phase, message?: string, verified?: string | null): Promise<void> {
    this.phase = phase;
    this.message = message;
    if (phase === "Downloading") this.rate.add(this.now(), this.fetched);
    await this.emit(verified);
  }

  async fail(reason: FailureReason, message: string): Promise<void> {
    this.reason = reason;
    await this.setPhase("Failed", message);
  }

  private async emit(verified: string | null | undefined): Promise<void> {
    // Wait for a report in flight so reports land in order; then send this one.
    if (this.pending) await this.pending.catch(() => undefined);
    const r = this.snapshot();
    const p = Promise.all(this.reporters.map((rep) => rep.report(r, verified))).then(() => undefined);
    this.pending = p;
    try {
      await p;
    } finally {
      if (this.pending === p) this.pending = undefined;
    }
  }
}
