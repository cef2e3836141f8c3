// Shared by the downloader's tests: a run of pullWeights against the Hub simulator, with reports captured.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { rootLogger } from "../util/log.ts";
import type { ProgressReport } from "../api/weights-contract.ts";
import { pullWeights, type PullOptions, type PullResult } from "./downloader.ts";
import { HttpClient } from "./http.ts";
import { ProgressTracker, type Reporter } from "./progress.ts";
import { HubSource } from "./source-hub.ts";
import { UrlSource } from "./source-url.ts";

export class CapturingReporter implements Reporter {
  reports: { report: ProgressReport; verified: string | null | undefined }[] = [];
  async report(report: ProgressReport, verified?: string | null): Promise<void> {
    this.reports.push({ report, verified });
  }
  phases(): string[] {
    return this.reports.map((r) => r.report.phase);
  }
}

export type TestPull = { result: PullResult; reporter: CapturingReporter };

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** One `weights pull` run in-process. Retries are fast and the stall timeout short, so faults resolve quickly. */
export async function runPull(o: {
  endpoint: string;
  dir: string;
  repo: string;
  revision: string;
  token?: string;
  baseUrl?: string;
  stallMs?: number;
  overrides?: Partial<PullOptions>;
  intervalMs?: number;
}): Promise<TestPull> {
  const reporter = new CapturingReporter();
  const http = new HttpClient({ stallTimeoutMs: o.stallMs ?? 2000, maxSockets: 8 });
  const source = o.baseUrl
    ? new UrlSource({ baseUrl: o.baseUrl, token: o.token, http })
    : new HubSource({ endpoint: o.endpoint, repo: o.repo, revision: o.revision, token: o.token, http });
  const progress = new ProgressTracker({
    repo: o.repo,
    revision: o.revision,
    reporters: [reporter],
    intervalMs: o.intervalMs ?? 10_000,
  });
  try {
    const result = await pullWeights({
      dir: o.dir,
      repo: o.repo,
      revision: o.revision,
      source,
      http,
      progress,
      log: rootLogger.child({ test: true }),
      concurrency: 4,
      partSize: 16 * 1024,
      retry: { maxAttempts: 5, baseDelayMs: 5, maxDelayMs: 50 },
      random: () => 0.5,
      ...o.overrides,
    });
    return { result, reporter };
  } finally {
    http.close();
  }
}
