// `weights verify` on a volume that already holds the files: against the Hub listing, the marker, or
// the structure, and never a marker left behind that does not tell the truth.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import net from "node:net";
import { mkdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { FileContent } from "../sim/hub/content.ts";
import { v4FlashShapedRepo, V4_FLASH_REPO, V4_FLASH_REVISION, type SimRepo } from "../sim/hub/repo.ts";
import { startHubServer, type HubServer } from "../sim/hub/server.ts";
import { rootLogger } from "../util/log.ts";
import { HttpClient } from "./http.ts";
import { markerPath } from "./layout.ts";
import { readMarker } from "./marker.ts";
import { ProgressTracker } from "./progress.ts";
import { HubSource } from "./source-hub.ts";
import { CapturingReporter, runPull, tempDir } from "./test-support.ts";
import { verifyWeights } from "./verify.ts";

const repo: SimRepo = v4FlashShapedRepo({ shardSize: 8 * 1024, shards: 6 });
let hub: HubServer;
const http = new HttpClient({ stallTimeoutMs: 2000, maxSockets: 4 });

beforeAll(async () => {
  hub = await startHubServer({ repos: [repo] });
});
afterAll(async () => {
  http.close();
  await hub.close();
});

async function verify(dir: string, endpoint: string | undefined, revision = V4_FLASH_REVISION) {
  const reporter = new CapturingReporter();
  const progress = new ProgressTracker({ repo: V4_FLASH_REPO, revision, reporters: [reporter], intervalMs: 10_000 });
  const source = endpoint
    ? new HubSource({ endpoint, repo: V4_FLASH_REPO, revision, token: undefined, http })
    : undefined;
  const result = await verifyWeights({ dir, repo: V4_FLASH_REPO, revision, source, log: rootLogger, progress });
  return { result, reporter };
}

/** Writes the repo's files as a hand-filled volume would have them: no marker, no state. */
async function writeRepo(dir: string) {
  for (const f of repo.files) {
    const c = new FileContent("deepseek-operator", f.path, f.content);
    await mkdir(path.dirname(path.join(dir, f.path)), { recursive: true });
    await writeFile(path.join(dir, f.path), c.read(0, c.size));
  }
}

async function flipByte(file: string, at: number) {
  const b = await readFile(file);
  b[at] = b[at]! ^ 0xff;
  await writeFile(file, b);
}

describe("weights verify", () => {
  it("checks a filled volume against the Hub listing and writes the marker", async () => {
    const { dir, cleanup } = await tempDir("verify-hub-");
    try {
      await writeRepo(dir);
      const from = hub.requestLog.length;
      const { result } = await verify(dir, hub.url);
      expect(result).toMatchObject({ ok: true, against: "hub", files: repo.files.length, problems: [] });
      expect(hub.requestLog.slice(from).every((e) => e.route === "revision" || e.route === "tree")).toBe(true); // nothing downloaded
      expect(await readMarker(dir)).toMatchObject({ verifiedAgainst: "hub", commit: V4_FLASH_REVISION });

      // The state written by verify lets a later pull trust the files without fetching them.
      const pulled = await runPull({ endpoint: hub.url, dir, repo: V4_FLASH_REPO, revision: V4_FLASH_REVISION });
      expect(pulled.result).toMatchObject({ ok: true, fetchedBytes: 0 });
    } finally {
      await cleanup();
    }
  });

  it("names the damaged file and removes the marker", async () => {
    const { dir, cleanup } = await tempDir("verify-bad-");
    try {
      await writeRepo(dir);
      expect((await verify(dir, hub.url)).result.ok).toBe(true);
      await flipByte(path.join(dir, "model-00003-of-00006.safetensors"), 5000);
      const { result } = await verify(dir, hub.url);
      expect(result.ok).toBe(false);
      expect(result.problems).toEqual([
        expect.stringMatching(/^model-00003-of-00006\.safetensors: sha256 [0-9a-f]{64}, expected/),
      ]);
      await expect(stat(markerPath(dir))).rejects.toThrow();
      await writeFile(path.join(dir, "config.json"), "{}");
      const again = await verify(dir, hub.url);
      expect(again.result.problems.some((p) => p.startsWith("config.json:"))).toBe(true);
    } finally {
      await cleanup();
    }
  });

  it("falls back to the marker when the endpoint is unreachable", async () => {
    const { dir, cleanup } = await tempDir("verify-marker-");
    try {
      await writeRepo(dir);
      expect((await verify(dir, hub.url)).result.ok).toBe(true);
      // A port that was just free: connection refused.
      const probe = net.createServer();
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
      const closed = `http://127.0.0.1:${(probe.address() as net.AddressInfo).port}`;
      await new Promise<void>((r) => probe.close(() => r()));
      const { result } = await verify(dir, closed);
      expect(result).toMatchObject({ ok: true, against: "marker" });
      await flipByte(path.join(dir, "model-00001-of-00006.safetensors"), 100);
      const bad = await verify(dir, undefined);
      expect(bad.result).toMatchObject({ ok: false, against: "marker" });
      await expect(stat(markerPath(dir))).rejects.toThrow();
    } finally {
      await cleanup();
    }
  });

  it("without a source or marker, checks the structure: every indexed shard present with a sound header", async () => {
    const { dir, cleanup } = await tempDir("verify-structure-");
    try {
      await writeRepo(dir);
      const { result, reporter } = await verify(dir, undefined);
      expect(result).toMatchObject({ ok: true, against: "structure" });
      const marker = await readMarker(dir);
      expect(marker).toMatchObject({ verifiedAgainst: "structure", commit: null });
      expect(marker!.files.map((f) => f.path)).toEqual(repo.files.map((f) => f.path).sort());
      expect(reporter.phases()[0]).toBe("Verifying");

      await writeFile(markerPath(dir), "not json"); // an unreadable marker counts as none
      await truncate(path.join(dir, "model-00004-of-00006.safetensors"), 8000);
      const bad = await verify(dir, undefined);
      expect(bad.result).toMatchObject({ ok: false, against: "structure" });
      expect(bad.result.problems).toEqual([
        expect.stringMatching(/^model-00004-of-00006\.safetensors: .*(truncated|outside)/),
      ]);
    } finally {
      await cleanup();
    }
  });

  it("refuses a marker written for another revision", async () => {
    const { dir, cleanup } = await tempDir("verify-rev-");
    try {
      await writeRepo(dir);
      expect((await verify(dir, hub.url)).result.ok).toBe(true);
      const { result } = await verify(dir, undefined, "0".repeat(40));
      expect(result).toMatchObject({
        ok: false,
        against: "marker",
        problems: [expect.stringContaining("not deepseek-ai/DeepSeek-V4-Flash@0000")],
      });
    } finally {
      await cleanup();
    }
  });
});
