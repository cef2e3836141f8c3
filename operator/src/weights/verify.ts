// `weights verify`: checks weights that are already on a volume, without downloading. Against, in order
// of strength: the source's listing (Hub tree or SHA256SUMS) when one is configured and reachable; else
// the completion marker; else the structure (every shard named by model.safetensors.index.json is there
// with a sound safetensors header holding the tensors the index puts in it). A pass against a listing or
// the structure writes the marker; the marker records which of them it was.
import { open, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { STATE_DIR } from "../api/weights-contract.ts";
import { WeightsError } from "./errors.ts";
import { hashFile } from "./hasher.ts";
import { INCOMPLETE_SUFFIX, finalPath } from "./layout.ts";
import { readMarker, removeMarker, writeMarker, type Marker, type MarkerFile } from "./marker.ts";
import type { ProgressTracker } from "./progress.ts";
import { classify } from "./retry.ts";
import { checkSafetensorsFile } from "./safetensors.ts";
import type { Listing, Source } from "./source.ts";
import { StateStore } from "./state.ts";

export type VerifyOptions = {
  dir: string;
  repo: string;
  revision: string;
  source: Source | undefined;
  log: Logger;
  progress: ProgressTracker;
  concurrency?: number;
};

export type VerifyResult = {
  ok: boolean;
  against: "hub" | "manifest" | "marker" | "structure";
  files: number;
  bytes: number;
  problems: string[];
};

type Check = { path: string; size: number | null; sha256: string | null; gitOid: string | null };

export async function verifyWeights(opts: VerifyOptions): Promise<VerifyResult> {
  const { dir, log, progress } = opts;
  await progress.setPhase("Verifying", `verifying ${dir}`, null);
  let listing: Listing | undefined;
  if (opts.source) {
    try {
      listing = await opts.source.list();
    } catch (err) {
      const c = classify(err);
      // A wrong token or a missing revision is an answer, not an outage: do not paper over it.
      if (c.kind === "permanent")
        throw new WeightsError(c.reason, `listing ${opts.source.description}: ${c.message}`, { cause: err });
      log.warn(
        { err: c.message, source: opts.source.description },
        "source unreachable; verifying against the marker or the structure instead",
      );
    }
  }
  if (listing) {
    const against = opts.source!.kind === "hub" ? "hub" : "manifest";
    const checks = listing.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, gitOid: f.gitOid }));
    return checkAndMark(opts, against, checks, listing.commit);
  }
  const marker = await readMarker(dir);
  if (marker) {
    if (marker.repo !== opts.repo || marker.revision !== opts.revision) {
      return {
        ok: false,
        against: "marker",
        files: 0,
        bytes: 0,
        problems: [`the marker is for ${marker.repo}@${marker.revision}, not ${opts.repo}@${opts.revision}`],
      };
    }
    const checks = marker.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, gitOid: null }));
    return runChecks(opts, "marker", checks);
  }
  return verifyStructure(opts);
}

async function checkAndMark(
  opts: VerifyOptions,
  against: "hub" | "manifest" | "structure",
  checks: Check[],
  commit: string | null,
): Promise<VerifyResult> {
  const results = await hashAll(opts, checks);
  const problems = results.flatMap((r) => (r.problem ? [r.problem] : []));
  const bytes = results.reduce((a, r) => a + (r.file?.size ?? 0), 0);
  if (problems.length > 0) await removeMarker(opts.dir);
  if (problems.length === 0) {
    const state = await StateStore.load(opts.dir);
    const files: MarkerFile[] = [];
    for (const r of results) {
      const f = r.file!;
      files.push({ path: f.path, size: f.size, sha256: f.sha256 });
      state.verified[f.path] = { size: f.size, mtimeMs: r.mtimeMs!, sha256: f.sha256, gitOid: r.gitOid ?? null };
    }
    state.markDirty();
    state.close();
    const marker: Marker = {
      version: 1,
      repo: opts.repo,
      revision: opts.revision,
      commit,
      verifiedAgainst: against,
      source: opts.source?.description ?? opts.dir,
      files,
      totalBytes: bytes,
      completedAt: new Date().toISOString(),
    };
    await writeMarker(opts.dir, marker);
  }
  return { ok: problems.length === 0, against, files: checks.length, bytes, problems };
}

async function runChecks(opts: VerifyOptions, against: "marker", checks: Check[]): Promise<VerifyResult> {
  const results = await hashAll(opts, checks);
  const problems = results.flatMap((r) => (r.problem ? [r.problem] : []));
  // A marker that no longer tells the truth must go: engine pods trust it.
  if (problems.length > 0) await removeMarker(opts.dir);
  return {
    ok: problems.length === 0,
    against,
    files: checks.length,
    bytes: results.reduce((a, r) => a + (r.file?.size ?? 0), 0),
    problems,
  };
}

type Hashed = { file?: MarkerFile; gitOid?: string | null; mtimeMs?: number; problem?: string };

async function hashAll(opts: VerifyOptions, checks: Check[]): Promise<Hashed[]> {
  const { progress } = opts;
  progress.filesTotal = checks.length;
  progress.bytesTotal = checks.reduce((a, c) => a + (c.size ?? 0), 0);
  const out = new Array<Hashed>(checks.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < checks.length; i = next++) {
      out[i] = await hashOne(opts.dir, checks[i]!);
      progress.filesDone++;
      progress.bytesDone += checks[i]!.size ?? out[i]!.file?.size ?? 0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, checks.length) }, worker));
  return out;
}

async function hashOne(dir: string, c: Check): Promise<Hashed> {
  let fh;
  try {
    fh = await open(finalPath(dir, c.path), "r");
  } catch {
    return { problem: `${c.path}: missing` };
  }
  try {
    const st = await fh.stat();
    if (c.size !== null && st.size !== c.size) return { problem: `${c.path}: ${st.size} bytes, expected ${c.size}` };
    const h = await hashFile(fh, st.size, c.sha256 === null);
    if (c.sha256 !== null && h.sha256 !== c.sha256)
      return { problem: `${c.path}: sha256 ${h.sha256}, expected ${c.sha256}` };
    if (c.sha256 === null && c.gitOid !== null && h.gitOid !== c.gitOid)
      return { problem: `${c.path}: git blob ${h.gitOid}, expected ${c.gitOid}` };
    return { file: { path: c.path, size: st.size, sha256: h.sha256 }, gitOid: h.gitOid, mtimeMs: st.mtimeMs };
  } finally {
    await fh.close();
  }
}

const INDEX = "model.safetensors.index.json";

async function verifyStructure(opts: VerifyOptions): Promise<VerifyResult> {
  const { dir } = opts;
  const problems: string[] = [];
  const shardTensors = new Map<string, string[]>();
  let index: { weight_map?: Record<string, string> } | undefined;
  try {
    index = JSON.parse(await readFile(path.join(dir, INDEX), "utf8")) as { weight_map?: Record<string, string> };
  } catch {
    index = undefined;
  }
  if (index?.weight_map && typeof index.weight_map === "object") {
    for (const [tensor, shard] of Object.entries(index.weight_map)) {
      const list = shardTensors.get(shard) ?? [];
      list.push(tensor);
      shardTensors.set(shard, list);
    }
  } else if (await stat(path.join(dir, "model.safetensors")).catch(() => undefined)) {
    shardTensors.set("model.safetensors", []);
  } else {
    return {
      ok: false,
      against: "structure",
      files: 0,
      bytes: 0,
      problems: [`neither ${INDEX} (with a weight_map) nor model.safetensors in ${dir}`],
    };
  }
  for (const [shard, tensors] of shardTensors) {
    const check = await checkSafetensorsFile(finalPath(dir, shard));
    if (!check.ok) {
      problems.push(`${shard}: ${check.error}`);
      continue;
    }
    const have = new Set(check.tensors);
    const missing = tensors.filter((t) => !have.has(t));
    if (missing.length > 0)
      problems.push(`${shard}: lacks ${missing.length} tensors the index puts there (first: ${missing[0]})`);
  }
  if (problems.length > 0) {
    await removeMarker(dir);
    return { ok: false, against: "structure", files: shardTensors.size, bytes: 0, problems };
  }
  // Sound structure: record what is there (every file but our own and partial ones) in the marker.
  const all = await listFiles(dir);
  return checkAndMark(
    opts,
    "structure",
    all.map((p) => ({ path: p, size: null, sha256: null, gitOid: null })),
    null,
  );
}

async function listFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (!rel && e.name === STATE_DIR) continue;
    if (e.isDirectory()) out.push(...(await listFiles(dir, p)));
    else if (e.isFile() && !e.name.endsWith(INCOMPLETE_SUFFIX)) out.push(p);
  }
  return out.sort();
}
