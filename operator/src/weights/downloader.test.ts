// The downloader against the Hub simulator on 127.0.0.1, one fault at a time. Byte counts come from the
// simulator's request log: what the server actually sent is the proof of "never fetched twice".
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { startHubServer, type HubServer } from "../sim/hub/server.ts";
import { uniformRepo, v4FlashShapedRepo, V4_FLASH_REPO, V4_FLASH_REVISION } from "../sim/hub/repo.ts";
import { parseProgressAnnotation, formatProgressAnnotation } from "../api/weights-contract.ts";
import { markerPath, stateSlotPaths } from "./layout.ts";
import { readMarker } from "./marker.ts";
import { runPull, tempDir } from "./test-support.ts";

const SMALL = "test/small"; // 4 LFS files of 100 KiB
const SMALL_SIZE = 100 * 1024;
let hub: HubServer;
let SMALL_REV: string;

beforeAll(async () => {
  const small = uniformRepo({ files: 4, fileSize: SMALL_SIZE, id: SMALL });
  SMALL_REV = small.revision;
  hub = await startHubServer({
    repos: [v4FlashShapedRepo({ shardSize: 40 * 1024 }), small],
    pageSize: 10,
    token: "hf_good",
  });
});
afterAll(async () => {
  await hub.close();
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const small = (i: number) => `model-0000${i}-of-00004.safetensors`;

/** Bytes the simulator sent for a file since `from` (an index into the request log). */
function servedSince(from: number, file?: string): number {
  return hub.requestLog.slice(from).reduce((a, e) => a + (file === undefined || e.file === file ? e.bytesSent : 0), 0);
}

async function pull(dir: string, extra: Partial<Parameters<typeof runPull>[0]> = {}) {
  return runPull({ endpoint: hub.url, dir, repo: SMALL, revision: SMALL_REV, token: "hf_good", ...extra });
}

async function expectNoStrayFinals(dir: string) {
  // Every file that has its final name must match the listing: bad bytes never take a final name.
  for (const f of hub.listing(SMALL)) {
    const p = path.join(dir, f.path);
    const st = await stat(p).catch(() => undefined);
    if (st) expect(sha256(await readFile(p))).toBe(f.sha256);
  }
}

describe("a V4-Flash-shaped repository", () => {
  it("downloads all 49 files over paged listings, verifies them, writes the marker, and a second run fetches nothing", async () => {
    const { dir, cleanup } = await tempDir("pull-v4-");
    try {
      const from = hub.requestLog.length;
      const { result, reporter } = await runPull({
        endpoint: hub.url,
        dir,
        repo: V4_FLASH_REPO,
        revision: "main",
        token: "hf_good",
      });
      expect(result.ok).toBe(true);
      const listing = hub.listing(V4_FLASH_REPO);
      expect(listing).toHaveLength(49);
      const treePages = hub.requestLog.slice(from).filter((e) => e.route === "tree");
      expect(treePages.length).toBe(5); // 49 entries, 10 per page
      for (const f of listing) {
        const bytes = await readFile(path.join(dir, f.path));
        expect(bytes.length).toBe(f.size);
        if (f.sha256) expect(sha256(bytes)).toBe(f.sha256);
        else expect(createHash("sha1").update(`blob ${f.size}\0`).update(bytes).digest("hex")).toBe(f.gitOid);
      }
      expect(servedSince(from)).toBe(listing.reduce((a, f) => a + f.size, 0));
      const marker = await readMarker(dir);
      expect(marker).toMatchObject({
        repo: V4_FLASH_REPO,
        revision: "main",
        commit: V4_FLASH_REVISION,
        verifiedAgainst: "hub",
      });
      expect(marker!.files).toHaveLength(49);
      expect((await readdir(dir)).filter((n) => n.endsWith(".incomplete"))).toEqual([]);
      // LFS bytes came from the CDN origin, and the token never went there.
      const cdn = hub.requestLog.slice(from).filter((e) => e.origin === "cdn");
      expect(cdn.length).toBeGreaterThanOrEqual(46);
      expect(cdn.every((e) => !e.authorization)).toBe(true);
      // The verified annotation is set only with the final Complete report.
      const last = reporter.reports.at(-1)!;
      expect(last.report.phase).toBe("Complete");
      expect(last.verified).toBe("main");
      expect(reporter.reports.slice(0, -1).every((r) => r.verified !== "main")).toBe(true);

      const second = hub.requestLog.length;
      const again = await runPull({ endpoint: hub.url, dir, repo: V4_FLASH_REPO, revision: "main", token: "hf_good" });
      expect(again.result).toMatchObject({ ok: true, fetchedBytes: 0, skippedFiles: 49 });
      expect(servedSince(second)).toBe(0);
      expect(hub.requestLog.slice(second).filter((e) => e.route === "resolve" || e.route === "cdn")).toEqual([]);

      // Pinned to the commit, a complete marker needs no network at all.
      const third = hub.requestLog.length;
      await runPull({ endpoint: hub.url, dir, repo: V4_FLASH_REPO, revision: V4_FLASH_REVISION, token: "hf_good" });
      const pinned = await runPull({
        endpoint: hub.url,
        dir,
        repo: V4_FLASH_REPO,
        revision: V4_FLASH_REVISION,
        token: "hf_good",
      });
      expect(pinned.result).toMatchObject({ ok: true, fetchedBytes: 0 });
      // the first of the two pinned runs listed (5 tree pages; a commit id needs no resolving); the second sent
      // nothing
      expect(hub.requestLog.length - third).toBe(5);
    } finally {
      await cleanup();
    }
  });
});

describe("requests", () => {
  it("resolves each file once and fetches its parts from the CDN URL it led to (the Hub rate-limits resolves)", async () => {
    const { dir, cleanup } = await tempDir("pull-resolve-");
    try {
      const from = hub.requestLog.length;
      const { result } = await pull(dir);
      expect(result.ok).toBe(true);
      const log = hub.requestLog.slice(from);
      const cdnParts = log.filter((e) => e.route === "cdn");
      const resolves = log.filter((e) => e.route === "resolve");
      expect(cdnParts.length).toBe(4 * Math.ceil(SMALL_SIZE / (16 * 1024))); // every part, each asked once
      // One per file, or a few more when connections start parts of one file before its first redirect
      // came back; never one per part.
      expect(resolves.length).toBeGreaterThanOrEqual(4);
      expect(resolves.length).toBeLessThanOrEqual(4 + 4);
    } finally {
      await cleanup();
    }
  });

  it("resolves again when a CDN URL it reuses is refused as expired (403), and finishes", async () => {
    const { dir, cleanup } = await tempDir("pull-expired-");
    try {
      // File 2's first part comes from a fresh CDN URL; the next request, to the same URL, is refused.
      hub.setFault({ kind: "status", status: 403, route: "cdn", path: small(2), skip: 1, times: 1 });
      const from = hub.requestLog.length;
      const { result } = await pull(dir, { overrides: { concurrency: 1 } });
      expect(result.ok).toBe(true);
      const forFile2 = hub.requestLog.slice(from).filter((e) => e.file === small(2));
      expect(forFile2.filter((e) => e.route === "cdn" && e.status === 403)).toHaveLength(1);
      expect(forFile2.filter((e) => e.route === "resolve")).toHaveLength(2);
      expect(sha256(await readFile(path.join(dir, small(2))))).toBe(hub.listing(SMALL)[1]!.sha256);
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });
});

describe("faults", () => {
  it("resumes a dropped connection from the last byte written, fetching no byte twice", async () => {
    const { dir, cleanup } = await tempDir("pull-drop-");
    try {
      hub.setFault({ kind: "drop", path: small(2), afterBytes: 40_000 });
      const from = hub.requestLog.length;
      const { result } = await pull(dir);
      expect(result.ok).toBe(true);
      const drops = hub.requestLog.slice(from).filter((e) => e.fault?.startsWith("drop"));
      expect(drops).toHaveLength(1);
      expect(servedSince(from, small(2))).toBe(SMALL_SIZE);
      expect(servedSince(from)).toBe(4 * SMALL_SIZE);
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });

  it("gives up on a stalled transfer after the stall timeout and retries it", async () => {
    const { dir, cleanup } = await tempDir("pull-stall-");
    try {
      hub.setFault({ kind: "stall", path: small(1), afterBytes: 20_000 });
      const from = hub.requestLog.length;
      const { result } = await pull(dir, { stallMs: 200 });
      expect(result.ok).toBe(true);
      expect(hub.requestLog.slice(from).filter((e) => e.fault?.startsWith("stall"))).toHaveLength(1);
      expect(servedSince(from, small(1))).toBe(SMALL_SIZE);
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });

  it("retries 5xx and 429 answers with backoff, honouring Retry-After", async () => {
    const { dir, cleanup } = await tempDir("pull-5xx-");
    try {
      hub.setFault({ kind: "status", status: 503, route: "resolve", path: small(3), times: 2 });
      hub.setFault({ kind: "status", status: 429, route: "tree", times: 1, retryAfter: 0 });
      hub.setFault({ kind: "status", status: 500, route: "cdn", path: small(4), times: 1 });
      const from = hub.requestLog.length;
      const { result } = await pull(dir);
      expect(result.ok).toBe(true);
      const statuses = hub.requestLog.slice(from).map((e) => e.status);
      expect(statuses.filter((s) => s === 503)).toHaveLength(2);
      expect(statuses.filter((s) => s === 429)).toHaveLength(1);
      expect(statuses.filter((s) => s === 500)).toHaveLength(1);
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });

  it("catches corrupted bytes by sha256, deletes them and fetches the file again", async () => {
    const { dir, cleanup } = await tempDir("pull-corrupt-");
    try {
      hub.setFault({ kind: "corrupt", path: small(1), offset: 50_000, length: 10 });
      const from = hub.requestLog.length;
      const { result } = await pull(dir);
      expect(result.ok).toBe(true);
      expect(servedSince(from, small(1))).toBe(2 * SMALL_SIZE);
      await expectNoStrayFinals(dir);
      expect(sha256(await readFile(path.join(dir, small(1))))).toBe(hub.listing(SMALL)[0]!.sha256);
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });

  it("fails with ChecksumMismatch (exit 1) when a file stays corrupt, and never puts it in place", async () => {
    const { dir, cleanup } = await tempDir("pull-corrupt-always-");
    try {
      hub.setFault({ kind: "corrupt", path: small(2), offset: 0, length: 1, times: Number.MAX_SAFE_INTEGER });
      const { result, reporter } = await pull(dir, { overrides: { maxChecksumRetries: 1 } });
      expect(result.ok).toBe(false);
      if (result.ok || "aborted" in result) throw new Error("expected a failure");
      expect(result.error.reason).toBe("ChecksumMismatch");
      expect(result.error.exitCode).toBe(1);
      await expect(stat(path.join(dir, small(2)))).rejects.toThrow();
      await expect(stat(markerPath(dir))).rejects.toThrow();
      await expectNoStrayFinals(dir);
      expect(reporter.reports.at(-1)!.report).toMatchObject({ phase: "Failed", reason: "ChecksumMismatch" });
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });

  it("fails fast with Unauthorized (exit 3) on a bad token, and NotFound (exit 3) on a missing repo or revision", async () => {
    const { dir, cleanup } = await tempDir("pull-auth-");
    try {
      const cases = [
        { args: { token: "hf_bad" }, reason: "Unauthorized" },
        { args: { token: undefined }, reason: "Unauthorized" },
        {
          args: { repo: "test/missing" },
          reason: "NotFound",
          message: /repository or revision not found|RepoNotFound/,
        },
        { args: { revision: "0".repeat(40) }, reason: "NotFound", message: /revision not found/ },
      ] as const;
      for (const c of cases) {
        const from = hub.requestLog.length;
        const { result, reporter } = await pull(dir, c.args);
        if (result.ok || "aborted" in result) throw new Error("expected a failure");
        expect(result.error.reason).toBe(c.reason);
        expect(result.error.exitCode).toBe(3);
        if ("message" in c) expect(result.error.message).toMatch(c.message);
        // Fails at the first answer: no retries of a permanent error.
        expect(hub.requestLog.length - from).toBe(1);
        const failed = reporter.reports.at(-1)!.report;
        expect(parseProgressAnnotation(formatProgressAnnotation(failed))).toMatchObject({
          ok: true,
          report: { phase: "Failed", reason: c.reason },
        });
      }
      hub.setFault({ kind: "status", status: 403, route: "resolve", errorCode: "GatedRepo" });
      const { result } = await pull(dir);
      expect(!result.ok && "error" in result && result.error).toMatchObject({
        reason: "Unauthorized",
        message: expect.stringContaining("gated"),
      });
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });

  it("refuses to start without room for the bytes left (DiskFull, exit 3), checked with statfs before any byte", async () => {
    const { dir, cleanup } = await tempDir("pull-space-");
    try {
      const from = hub.requestLog.length;
      const { result } = await pull(dir, { overrides: { freeSpace: async () => 1024 * 1024 } });
      if (result.ok || "aborted" in result) throw new Error("expected a failure");
      expect(result.error.reason).toBe("DiskFull");
      expect(result.error.exitCode).toBe(3);
      expect(result.error.message).toMatch(/free/);
      expect(servedSince(from)).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it("stops with DiskFull when a write fails with a real ENOSPC (the staging file is /dev/full)", async () => {
    const { dir, cleanup } = await tempDir("pull-enospc-");
    try {
      // The kernel answers every write to /dev/full with ENOSPC: a real full disk as far as the writer can tell.
      await symlink("/dev/full", path.join(dir, `${small(3)}.incomplete`));
      const { result } = await pull(dir);
      if (result.ok || "aborted" in result) throw new Error("expected a failure");
      expect(result.error.reason).toBe("DiskFull");
      expect(result.error.exitCode).toBe(3);
      await expect(stat(path.join(dir, small(3)))).rejects.toThrow();
      await expect(stat(markerPath(dir))).rejects.toThrow();
    } finally {
      await cleanup();
    }
  });

  it("stops at the overall --timeout (exit 1), and the next run resumes without fetching a byte twice", async () => {
    const { dir, cleanup } = await tempDir("pull-timeout-");
    try {
      hub.setFault({ kind: "stall", path: small(4), afterBytes: 30_000 });
      const from = hub.requestLog.length;
      const first = await pull(dir, { stallMs: 60_000, overrides: { timeoutMs: 400 } });
      if (first.result.ok || "aborted" in first.result) throw new Error("expected a failure");
      expect(first.result.error.reason).toBe("Timeout");
      expect(first.result.error.exitCode).toBe(1);
      expect(first.reporter.reports.at(-1)!.report).toMatchObject({ phase: "Failed", reason: "Timeout" });
      type Slot = { seq: number; partial: Record<string, { partSize: number; received: number[] }> };
      const slots = await Promise.all(
        stateSlotPaths(dir).map((p) =>
          readFile(p, "utf8").then(
            (t) => JSON.parse(t) as Slot,
            () => undefined,
          ),
        ),
      );
      const state = slots.filter((x) => x !== undefined).sort((a, b) => b.seq - a.seq)[0]!;
      const partial = state.partial[small(4)]!;
      // The stalled part kept every byte that arrived before the stall (idle connections took the other parts
      // meanwhile).
      expect(partial.received[Math.floor(30_000 / partial.partSize)]).toBe(30_000 % partial.partSize);
      const onDisk = partial.received.reduce((a, b) => a + b, 0);
      expect(servedSince(from, small(4))).toBe(onDisk);

      hub.clearFaults();
      const second = hub.requestLog.length;
      const { result } = await pull(dir);
      expect(result.ok).toBe(true);
      expect(servedSince(second, small(4))).toBe(SMALL_SIZE - onDisk);
      expect(servedSince(second)).toBe(SMALL_SIZE - onDisk); // the three finished files are not fetched again
      expect(sha256(await readFile(path.join(dir, small(4))))).toBe(hub.listing(SMALL)[3]!.sha256);
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });

  it("resumes a direct-I/O run through the page cache and the other way round, from unaligned offsets", async () => {
    for (const [first, second] of [
      [true, false],
      [false, true],
    ] as const) {
      const { dir, cleanup } = await tempDir("pull-modes-");
      try {
        hub.setFault({ kind: "stall", path: small(3), afterBytes: 21_000 }); // mid-part, mid-block
        const a = await pull(dir, { stallMs: 60_000, overrides: { timeoutMs: 400, directIo: first } });
        expect(a.result.ok).toBe(false);
        type Slot = { seq: number; partial: Record<string, { partSize: number; received: number[] }> };
        const slots = await Promise.all(
          stateSlotPaths(dir).map((p) =>
            readFile(p, "utf8").then(
              (t) => JSON.parse(t) as Slot,
              () => undefined,
            ),
          ),
        );
        const partial = slots.filter((x) => x !== undefined).sort((x, y) => y.seq - x.seq)[0]!.partial[small(3)]!;
        // The stalled part kept the bytes up to the stall, although they end mid-block.
        expect(partial.received[Math.floor(21_000 / partial.partSize)]).toBe(21_000 % partial.partSize);
        const onDisk = partial.received.reduce((x, y) => x + y, 0);
        hub.clearFaults();
        const from = hub.requestLog.length;
        const b = await pull(dir, { overrides: { directIo: second } });
        expect(b.result.ok).toBe(true);
        expect(servedSince(from, small(3))).toBe(SMALL_SIZE - onDisk);
        for (let i = 1; i <= 4; i++)
          expect(sha256(await readFile(path.join(dir, small(i))))).toBe(hub.listing(SMALL)[i - 1]!.sha256);
      } finally {
        hub.clearFaults();
        await cleanup();
      }
    }
  });

  it("checks a file found in place instead of fetching it, and replaces one that does not match", async () => {
    const { dir, cleanup } = await tempDir("pull-inplace-");
    try {
      const first = await pull(dir);
      expect(first.result.ok).toBe(true);
      // Lose the state (a PVC filled by hand) and damage one file without changing its size.
      for (const p of stateSlotPaths(dir)) await rm(p, { force: true });
      const bad = path.join(dir, small(2));
      const bytes = await readFile(bad);
      bytes[10] = bytes[10]! ^ 1;
      await writeFile(bad, bytes);
      const from = hub.requestLog.length;
      const { result, reporter } = await pull(dir);
      expect(result.ok).toBe(true);
      expect(servedSince(from)).toBe(SMALL_SIZE);
      expect(servedSince(from, small(2))).toBe(SMALL_SIZE);
      expect(reporter.phases()).toContain("Verifying");
      await expectNoStrayFinals(dir);
    } finally {
      await cleanup();
    }
  });

  it("reports progress on the interval with consistent bytes, rate and ETA", async () => {
    const { dir, cleanup } = await tempDir("pull-progress-");
    try {
      hub.setFault({ kind: "rate", bytesPerSecond: 400_000 });
      const { result, reporter } = await pull(dir, { intervalMs: 50, overrides: { concurrency: 2 } });
      expect(result.ok).toBe(true);
      const downloading = reporter.reports.map((r) => r.report).filter((r) => r.phase === "Downloading");
      expect(downloading.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < downloading.length; i++)
        expect(downloading[i]!.bytesDone).toBeGreaterThanOrEqual(downloading[i - 1]!.bytesDone);
      for (const r of downloading) {
        expect(r.bytesTotal).toBe(4 * SMALL_SIZE);
        expect(r.filesTotal).toBe(4);
        expect(r.bytesDone).toBeLessThanOrEqual(r.bytesTotal);
        if (r.etaSeconds !== null && r.bytesPerSecond > 0) {
          expect(r.etaSeconds).toBeGreaterThanOrEqual(0);
          expect(r.etaSeconds).toBeCloseTo((r.bytesTotal - r.bytesDone) / r.bytesPerSecond, 3);
        }
      }
      expect(downloading.some((r) => r.bytesPerSecond > 0)).toBe(true);
      expect(reporter.reports.at(-1)!.report).toMatchObject({
        phase: "Complete",
        bytesDone: 4 * SMALL_SIZE,
        filesDone: 4,
        etaSeconds: 0,
      });
    } finally {
      hub.clearFaults();
      await cleanup();
    }
  });

  it("downloads from a plain folder with a SHA256SUMS manifest", async () => {
    const { dir, cleanup } = await tempDir("pull-url-");
    try {
      await mkdir(dir, { recursive: true });
      const { result } = await pull(dir, { baseUrl: hub.plainUrl(SMALL) });
      expect(result.ok).toBe(true);
      const marker = await readMarker(dir);
      expect(marker).toMatchObject({ verifiedAgainst: "manifest", commit: null });
      for (const f of hub.listing(SMALL)) expect(sha256(await readFile(path.join(dir, f.path)))).toBe(f.sha256);
    } finally {
      await cleanup();
    }
  });
});
