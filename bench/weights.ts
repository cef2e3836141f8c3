// Weights downloader bench: throughput against curl at the same parallelism, and bytes fetched again
// after a kill -9 at a random point. Everything runs on 127.0.0.1 against the Hub simulator (a separate
// process, so it does not share the downloader's event loop).
//   PATH=$PWD/node_modules/.bin:$PATH node bench/weights.ts
// Last line: weights_ratio=<downloader bytes/s ÷ curl bytes/s> (goal ≥ 0.9), against plain curl at the
// same parallelism, as the goal defines it. The downloader also flushes every file to the device before it
// reports it complete (an engine must never load bytes a node crash can take back) and verifies sha256, so
// the ratio against curl plus the same flush (`sync -d`) is printed too, as context, and so is the disk's own
// direct-write speed for the same bytes (dd with O_DIRECT, no network and no hash): a downloader that puts every
// byte on the device cannot finish before the device has taken them.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, open, rm, statfs } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { pool } from "./lib/pool.ts";
import { childrenCpuSeconds, cpuSeconds } from "./lib/proc.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// The simulator runs from the sources; the downloader runs as it ships (the image carries dist/, compiled
// by `npm run build`, which this bench runs first): type-stripping the sources at each start costs a
// Job about 0.1 s, which at these sizes is 3 % of the run.
const CLI = path.join(ROOT, "operator/src/cli/main.ts");
const SHIPPED_CLI = path.join(ROOT, "dist/main.js");
const FILES = Number(process.env.BENCH_FILES ?? 8);
const FILE_SIZE = Number(process.env.BENCH_FILE_SIZE ?? 256 * 1024 * 1024);
const CONCURRENCY = 8;
const PART_SIZE = 64 * 1024 * 1024;
/** Rounds of (curl, downloader) back to back: on a shared machine the load moves by 2x within a minute,
 * so each round's ratio compares runs under similar load, and the median of the rounds is reported. */
const ROUNDS = 5;
const KILL_TRIALS = 5;
const REPO = "bench/uniform";
const TOTAL = FILES * FILE_SIZE;

const MiB = 1024 * 1024;
const fmt = (bytesPerSecond: number) => `${(bytesPerSecond / MiB).toFixed(1)} MiB/s`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const node = process.execPath;

type Sim = { url: string; revision: string; proc: ChildProcess };

async function startSim(): Promise<Sim> {
  const proc = spawn(
    node,
    [
      "--disable-warning=ExperimentalWarning",
      CLI,
      "simulate",
      "hub",
      "--shape",
      "uniform",
      "--model",
      REPO,
      "--files",
      String(FILES),
      "--file-size",
      String(FILE_SIZE),
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, LOG_LEVEL: "info" },
    },
  );
  const lines = createInterface({ input: proc.stdout });
  for await (const line of lines) {
    const j = JSON.parse(line) as { msg?: string; url?: string; revision?: string };
    if (j.msg === "hub simulator listening") {
      lines.close();
      proc.stdout.resume();
      return { url: j.url!, revision: j.revision!, proc };
    }
  }
  throw new Error("the hub simulator exited before listening");
}

async function bytesServed(sim: Sim): Promise<number> {
  const r = await fetch(`${sim.url}/_sim/stats`);
  return ((await r.json()) as { bytesServed: number }).bytesServed;
}

function exitOf(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve(p.exitCode);
    else p.once("exit", (code) => resolve(code));
  });
}

/** Which range client moves the bytes: the socket client (direct), or undici's (the path behind a proxy). */
type Client = "socket" | "undici";

function pull(sim: Sim, dir: string, client: Client = "socket"): ChildProcess {
  const args = [
    SHIPPED_CLI,
    "weights",
    "pull",
    "--repo",
    REPO,
    "--revision",
    sim.revision,
    "--dir",
    dir,
    "--endpoint",
    sim.url,
  ];
  args.push("--concurrency", String(CONCURRENCY), "--part-size", String(PART_SIZE));
  return spawn(node, args, {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, LOG_LEVEL: "warn", DSO_RANGE_CLIENT: client },
  });
}

function fileUrl(sim: Sim, i: number): string {
  const name = `model-${String(i).padStart(5, "0")}-of-${String(FILES).padStart(5, "0")}.safetensors`;
  return `${sim.url}/${REPO}/resolve/${sim.revision}/${name}`;
}

async function timeDownloader(sim: Sim, dir: string, client: Client): Promise<number> {
  const t0 = performance.now();
  const code = await exitOf(pull(sim, dir, client));
  if (code !== 0) throw new Error(`downloader exited ${code}`);
  return TOTAL / ((performance.now() - t0) / 1000);
}

/**
 * The baseline: CONCURRENCY curl processes, each fetching whole files (following the CDN redirect) to
 * disk; then `sync -d` of those files. Returns bytes/s without and with the flush.
 */
async function timeCurl(sim: Sim, dir: string): Promise<{ pageCache: number; durable: number }> {
  const t0 = performance.now();
  const procs: ChildProcess[] = [];
  const files: string[] = [];
  for (let w = 0; w < CONCURRENCY; w++) {
    const args = ["-sS", "--fail", "-L"];
    for (let i = w + 1; i <= FILES; i += CONCURRENCY) {
      const f = path.join(dir, `f${i}`);
      files.push(f);
      args.push("-o", f, fileUrl(sim, i));
    }
    if (args.length > 3) procs.push(spawn("curl", args, { stdio: ["ignore", "ignore", "inherit"] }));
  }
  const codes = await Promise.all(procs.map(exitOf));
  if (codes.some((c) => c !== 0)) throw new Error(`curl exited ${codes.join(",")}`);
  const t1 = performance.now();
  const sync = await exitOf(spawn("sync", ["-d", ...files], { stdio: "inherit" }));
  if (sync !== 0) throw new Error(`sync exited ${sync}`);
  const t2 = performance.now();
  return { pageCache: TOTAL / ((t1 - t0) / 1000), durable: TOTAL / ((t2 - t0) / 1000) };
}

/** The block device's stat file under `dir`, or undefined when it is on none (tmpfs, overlay). */
function blockStatFile(dir: string): string | undefined {
  const { dev } = statSync(dir);
  const file = `/sys/dev/block/${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & 0xfff00)}/stat`;
  return existsSync(file) ? file : undefined;
}

/**
 * Waits until the disk of `statFile` (blockStatFile) is quiet: `sync`, then io_ticks (ms the device had I/O
 * in flight) unchanged for half a second, at most 20 s. The previous run's `rm` frees the files, and a filesystem
 * mounted with `discard` sends the device discards for them at the next journal commit: a downloader started
 * at once would share the device with them, while curl, which only fills the page cache, would not
 * (docs/weights.md has the pairs measured).
 */
async function settleDisk(statFile: string | undefined): Promise<void> {
  const code = await exitOf(spawn("sync", [], { stdio: "inherit" }));
  if (code !== 0) throw new Error(`sync exited ${code}`);
  if (!statFile) return;
  const ioTicks = () => Number(readFileSync(statFile, "utf8").trim().split(/\s+/)[9]);
  const deadline = performance.now() + 20_000;
  let last = ioTicks();
  let quiet = 0;
  while (quiet < 5 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = ioTicks();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

/** Random bytes, so a disk (or a hypervisor) that skips zeros cannot flatter the floor. */
async function writeSource(file: string): Promise<void> {
  const fh = await open(file, "w");
  try {
    const chunk = Buffer.allocUnsafe(4 * MiB);
    for (let off = 0; off < FILE_SIZE; off += chunk.length) {
      const n = Math.min(chunk.length, FILE_SIZE - off);
      await fh.write(randomFillSync(chunk, 0, n), 0, n, off);
    }
  } finally {
    await fh.close();
  }
}

/**
 * The disk's floor: FILES copies of a page-cached source written with O_DIRECT in 4 MiB blocks and flushed
 * (`dd oflag=direct conv=fdatasync`), CONCURRENCY at a time, as the downloader writes them. Returns bytes/s.
 */
async function timeDisk(source: string, dir: string): Promise<number> {
  const t0 = performance.now();
  await pool(
    Array.from({ length: FILES }, (_, i) => i + 1),
    CONCURRENCY,
    async (i) => {
      const p = spawn(
        "dd",
        [`if=${source}`, `of=${path.join(dir, `f${i}`)}`, "bs=4M", "oflag=direct", "conv=fdatasync", "status=none"],
        { stdio: ["ignore", "ignore", "inherit"] },
      );
      const code = await exitOf(p);
      if (code !== 0) throw new Error(`dd exited ${code}`);
    },
  );
  return TOTAL / ((performance.now() - t0) / 1000);
}

async function killTrial(sim: Sim, base: string, trial: number): Promise<{ killedAt: number; refetched: number }> {
  const dir = await mkdtemp(path.join(base, `kill${trial}-`));
  try {
    const s0 = await bytesServed(sim);
    const target = Math.floor(TOTAL * (0.1 + 0.8 * Math.random()));
    const p = pull(sim, dir);
    let served = 0;
    while (served < target && p.exitCode === null) {
      await new Promise((r) => setTimeout(r, 5));
      served = (await bytesServed(sim)) - s0;
    }
    p.kill("SIGKILL");
    await exitOf(p);
    const killedAt = (await bytesServed(sim)) - s0;
    const code = await exitOf(pull(sim, dir));
    if (code !== 0) throw new Error(`resumed downloader exited ${code}`);
    const refetched = (await bytesServed(sim)) - s0 - TOTAL;
    return { killedAt, refetched };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const base = await mkdtemp(path.join(os.tmpdir(), "bench-weights-"));
  const fs = await statfs(base);
  const free = fs.bavail * fs.bsize;
  if (free < TOTAL * 1.5 + FILE_SIZE)
    throw new Error(
      `${base} has ${(free / MiB).toFixed(0)} MiB free; the bench needs ${((TOTAL * 1.5 + FILE_SIZE) / MiB).toFixed(0)} MiB`,
    );
  execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "inherit" });
  console.log(
    `weights bench: ${FILES} files x ${FILE_SIZE / MiB} MiB = ${(TOTAL / MiB).toFixed(0)} MiB, concurrency ` +
      `${CONCURRENCY}, part size ${PART_SIZE / MiB} MiB, ${os.cpus().length} CPUs`,
  );
  const t0 = performance.now();
  const sim = await startSim();
  console.log(
    `hub simulator up at ${sim.url} after ${((performance.now() - t0) / 1000).toFixed(1)} s (content hashed at start)`,
  );
  try {
    const source = path.join(base, "dd-source");
    await writeSource(source);
    const diskStat = blockStatFile(base);
    await settleDisk(diskStat);
    const curl: number[] = [];
    const curlDurable: number[] = [];
    const ours: number[] = [];
    const undici: number[] = [];
    const disk: number[] = [];
    /** CPU-seconds per round: of the runner's processes, and of the simulator serving it. */
    const cpu = {
      downloader: [] as number[],
      undici: [] as number[],
      curl: [] as number[],
      simForDownloader: [] as number[],
      simForUndici: [] as number[],
      simForCurl: [] as number[],
    };
    const runners = ["curl", "downloader", "undici", "disk"] as const;
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate which goes first so none always gets the warmer page cache or the quieter device.
      const order = runners.map((_, k) => runners[(k + round - 1) % runners.length]!);
      for (const who of order) {
        const dir = await mkdtemp(path.join(base, `${who}-`));
        const c0 = childrenCpuSeconds();
        const s0 = cpuSeconds(sim.proc.pid!);
        if (who === "curl") {
          const r = await timeCurl(sim, dir);
          curl.push(r.pageCache);
          curlDurable.push(r.durable);
        } else if (who === "disk") {
          disk.push(await timeDisk(source, dir));
        } else if (who === "undici") {
          undici.push(await timeDownloader(sim, dir, "undici"));
        } else {
          ours.push(await timeDownloader(sim, dir, "socket"));
        }
        if (who !== "disk") {
          cpu[who].push(childrenCpuSeconds() - c0);
          const simKey = ({ curl: "simForCurl", downloader: "simForDownloader", undici: "simForUndici" } as const)[who];
          cpu[simKey].push(cpuSeconds(sim.proc.pid!) - s0);
        }
        await rm(dir, { recursive: true, force: true });
        await settleDisk(diskStat);
      }
      const i = round - 1;
      console.log(
        `round ${round}: downloader ${fmt(ours[i]!)} (sha256-verified, flushed); curl into the page cache ` +
          `${fmt(curl[i]!)}, ratio ${(ours[i]! / curl[i]!).toFixed(3)}; curl + sync -d ${fmt(curlDurable[i]!)}; disk (dd oflag=direct) ${fmt(disk[i]!)}; ` +
          `downloader on undici (its client behind a proxy) ${fmt(undici[i]!)}, ratio to curl ${(undici[i]! / curl[i]!).toFixed(3)}`,
      );
    }
    const ratio = median(ours.map((o, i) => o / curlDurable[i]!));
    const ratioPageCache = median(ours.map((o, i) => o / curl[i]!));
    const ratioDisk = median(ours.map((o, i) => o / disk[i]!));
    console.log(
      `median of ${ROUNDS} rounds: downloader ${fmt(median(ours))}; curl into the page cache ` +
        `${fmt(median(curl))}; curl + sync -d ${fmt(median(curlDurable))}; disk ${fmt(median(disk))}`,
    );
    console.log(`ratio against curl + sync -d (the same durability as the downloader): ${ratio.toFixed(3)}`);
    const cs = (xs: number[]) => `${median(xs).toFixed(2)} CPU-s`;
    console.log(
      `CPU per round (medians, ${os.cpus().length} CPUs shared by all): downloader ${cs(cpu.downloader)} + ` +
        `simulator ${cs(cpu.simForDownloader)}; curl ${cs(cpu.curl)} + simulator ${cs(cpu.simForCurl)} (curl's includes sync -d)`,
    );
    console.log(
      `undici's range client (the path behind a proxy) against the socket client: ` +
        `${median(undici.map((u, i) => u / ours[i]!)).toFixed(3)} (median of ${ROUNDS} rounds); ` +
        `against curl: ${median(undici.map((u, i) => u / curl[i]!)).toFixed(3)}; CPU ${cs(cpu.undici)} + simulator ${cs(cpu.simForUndici)}`,
    );
    console.log(
      `ratio against the disk's direct writes of the same bytes (no network, no hash): ${ratioDisk.toFixed(3)}; ` +
        `curl into the page cache against the disk: ${median(curl.map((c, i) => c / disk[i]!)).toFixed(3)}`,
    );

    const goal = CONCURRENCY * PART_SIZE;
    console.log(
      `kill -9 at a random byte, then resume; goal: re-fetch at most one part per connection in flight ` +
        `(${CONCURRENCY} x ${PART_SIZE / MiB} MiB = ${goal / MiB} MiB)`,
    );
    for (let t = 1; t <= KILL_TRIALS; t++) {
      const { killedAt, refetched } = await killTrial(sim, base, t);
      console.log(
        `trial ${t}: killed after ${(killedAt / MiB).toFixed(1)} MiB served, re-fetched ` +
          `${(refetched / MiB).toFixed(2)} MiB (goal <= ${goal / MiB} MiB: ${refetched <= goal ? "met" : "MISSED"})`,
      );
    }
    console.log(`weights_ratio=${ratioPageCache.toFixed(3)}`);
  } finally {
    sim.proc.kill("SIGTERM");
    await exitOf(sim.proc);
    await rm(base, { recursive: true, force: true });
  }
}

await main();
