// `deepseek-operator weights pull|verify`: the weights Job's entry point.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { CliError } from "./errors.ts";
import { rootLogger } from "../util/log.ts";
import { EXIT_PERMANENT } from "../api/weights-contract.ts";
import { DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE, pullWeights } from "../weights/downloader.ts";
import { redactUrl, WeightsError } from "../weights/errors.ts";
import { parseOrigins, tokenRefusal } from "../render/index.ts";
import { PLAIN_HTTP_ORIGINS_ENV, TOKEN_ORIGINS_ENV } from "../render/endpoints.ts";
import { HttpClient } from "../weights/http.ts";
import { LogReporter, ProgressTracker, type Reporter } from "../weights/progress.ts";
import { DEFAULT_RETRY } from "../weights/retry.ts";
import { DEFAULT_ENDPOINT, HubSource } from "../weights/source-hub.ts";
import { UrlSource } from "../weights/source-url.ts";
import type { Source } from "../weights/source.ts";
import { verifyWeights } from "../weights/verify.ts";

const USAGE = `usage:
  deepseek-operator weights pull --repo R --revision REV --dir D [--endpoint URL] [--token-file F]
      [--base-url URL] [--concurrency N] [--part-size BYTES] [--stall-timeout S] [--timeout S]
      [--progress-interval S] [--report-pvc NAMESPACE/NAME]
  deepseek-operator weights verify --repo R --revision REV --dir D [--endpoint URL | --base-url URL]
      [--token-file F] [--report-pvc NAMESPACE/NAME]

  --endpoint     Hub API endpoint (env HF_ENDPOINT; default ${DEFAULT_ENDPOINT}), e.g. a mirror
  --base-url     plain HTTP(S) folder serving SHA256SUMS and the files, instead of a Hub API
  --token-file   file holding the access token (else env HF_TOKEN)
  --report-pvc   PVC to patch progress annotations onto (env DSO_REPORT_PVC)
  BYTES accepts suffixes K M G (x1000) and Ki Mi Gi (x1024).
exit codes: 0 done, 1 transient failure (retry resumes), 3 permanent (Unauthorized, NotFound, DiskFull)`;

const OPTIONS = {
  repo: { type: "string" },
  revision: { type: "string" },
  dir: { type: "string" },
  endpoint: { type: "string" },
  "token-file": { type: "string" },
  "base-url": { type: "string" },
  concurrency: { type: "string" },
  "part-size": { type: "string" },
  "stall-timeout": { type: "string" },
  timeout: { type: "string" },
  "progress-interval": { type: "string" },
  "report-pvc": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export function parseBytes(v: string, flag: string): number {
  const m = /^(\d+)\s*(K|M|G|T|Ki|Mi|Gi|Ti)?B?$/.exec(v.trim());
  if (!m) throw new CliError(`--${flag} must be a byte count like 67108864 or 64Mi, got ${JSON.stringify(v)}`);
  const mult: Record<string, number> = {
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(m[1]) * (m[2] ? mult[m[2]]! : 1);
}

function parseSeconds(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new CliError(`--${flag} must be a number of seconds, got ${JSON.stringify(v)}`);
  return n;
}

type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "string" ? string : boolean };

/**
 * Under the operator (which puts its token policy into the Job's env), a token is sent only where
 * the administrator allows: checked here again, before any request, whatever the Job's arguments say.
 */
function tokenDestinationRefusal(target: string): string | undefined {
  const origins = process.env[TOKEN_ORIGINS_ENV];
  if (origins === undefined) return undefined;
  const policy = {
    tokenOrigins: parseOrigins(origins, TOKEN_ORIGINS_ENV),
    plainHttpOrigins: parseOrigins(process.env[PLAIN_HTTP_ORIGINS_ENV] ?? "", PLAIN_HTTP_ORIGINS_ENV),
  };
  const why = tokenRefusal(target, policy);
  return why ? `the endpoint ${redactUrl(target)} ${why}` : undefined;
}

async function readToken(flags: Flags): Promise<string | undefined> {
  if (flags["token-file"]) {
    try {
      const t = (await readFile(flags["token-file"], "utf8")).trim();
      return t || undefined;
    } catch (err) {
      throw new WeightsError(
        "Unauthorized",
        `cannot read --token-file ${flags["token-file"]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  return process.env.HF_TOKEN?.trim() || undefined;
}

function required(flags: Flags, name: "repo" | "revision" | "dir"): string {
  const v = flags[name];
  if (!v) throw new CliError(`--${name} is required\n${USAGE}`);
  return v;
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "pull" && sub !== "verify") {
    if (sub === "-h" || sub === "--help") {
      process.stdout.write(USAGE + "\n");
      return 0;
    }
    throw new CliError(USAGE);
  }
  let flags: Flags;
  try {
    flags = parseArgs({ args: rest, options: OPTIONS, strict: true }).values;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  if (flags.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const repo = required(flags, "repo");
  const revision = required(flags, "revision");
  const dir = required(flags, "dir");
  const concurrency = flags.concurrency ? Number(flags.concurrency) : DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new CliError(`--concurrency must be 1..64, got ${flags.concurrency}`);
  const partSize = flags["part-size"] ? parseBytes(flags["part-size"], "part-size") : DEFAULT_PART_SIZE;
  if (partSize < 1024 * 1024) throw new CliError("--part-size must be at least 1Mi");
  const stallSeconds = parseSeconds(flags["stall-timeout"], "stall-timeout", 60);
  if (stallSeconds <= 0) throw new CliError("--stall-timeout must be positive");
  const timeoutSeconds = parseSeconds(flags.timeout, "timeout", 0);
  const intervalSeconds = parseSeconds(flags["progress-interval"], "progress-interval", 10);
  if (intervalSeconds <= 0 || intervalSeconds > 10)
    throw new CliError("--progress-interval must be in (0, 10] seconds");
  const pvcRef = flags["report-pvc"] ?? process.env.DSO_REPORT_PVC;
  if (flags["base-url"] && flags.endpoint) throw new CliError("give --endpoint or --base-url, not both");

  const log = rootLogger.child({ module: "weights", repo, revision, dir });
  const reporters: Reporter[] = [new LogReporter(log)];
  if (pvcRef) {
    // Loaded only when needed: the Kubernetes client takes seconds to import, a local pull needs none of it.
    const { PvcReporter, defaultKubeConfig, parsePvcRef } = await import("../weights/pvc-reporter.ts");
    let ref;
    try {
      ref = parsePvcRef(pvcRef);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    reporters.push(new PvcReporter(defaultKubeConfig(), ref, log));
  }
  const progress = new ProgressTracker({ repo, revision, reporters, intervalMs: intervalSeconds * 1000 });
  const http = new HttpClient({ stallTimeoutMs: stallSeconds * 1000, maxSockets: concurrency + 2 });
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error("terminated by signal"));
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    let token: string | undefined;
    try {
      token = await readToken(flags);
    } catch (err) {
      const e = err as WeightsError;
      await progress.fail(e.reason, e.message);
      process.stderr.write(`deepseek-operator weights ${sub}: ${e.reason}: ${e.message}\n`);
      return EXIT_PERMANENT;
    }
    const endpoint = flags.endpoint ?? process.env.HF_ENDPOINT;
    const refusal = token ? tokenDestinationRefusal(flags["base-url"] ?? endpoint ?? DEFAULT_ENDPOINT) : undefined;
    if (refusal) {
      await progress.fail("Unauthorized", refusal);
      process.stderr.write(`deepseek-operator weights ${sub}: Unauthorized: ${refusal}\n`);
      return EXIT_PERMANENT;
    }
    let source: Source | undefined;
    if (flags["base-url"]) source = new UrlSource({ baseUrl: flags["base-url"], token, http });
    else if (sub === "pull" || endpoint)
      source = new HubSource({ endpoint: endpoint ?? DEFAULT_ENDPOINT, repo, revision, token, http });

    if (sub === "verify") return await runVerify({ dir, repo, revision, source, log, progress, concurrency });

    const result = await pullWeights({
      dir,
      repo,
      revision,
      source: source!,
      http,
      progress,
      log,
      concurrency,
      partSize,
      timeoutMs: timeoutSeconds * 1000,
      retry: DEFAULT_RETRY,
      signal: stop.signal,
    });
    if (result.ok) {
      log.info(
        { fetchedBytes: result.fetchedBytes, skippedFiles: result.skippedFiles, files: result.marker.files.length },
        "weights complete",
      );
      return 0;
    }
    if ("aborted" in result) return 143;
    process.stderr.write(`deepseek-operator weights pull: ${result.error.reason}: ${result.error.message}\n`);
    return result.error.exitCode;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    http.close();
  }
}

async function runVerify(o: {
  dir: string;
  repo: string;
  revision: string;
  source: Source | undefined;
  log: typeof rootLogger;
  progress: ProgressTracker;
  concurrency: number;
}): Promise<number> {
  o.progress.start();
  try {
    const r = await verifyWeights({
      dir: o.dir,
      repo: o.repo,
      revision: o.revision,
      source: o.source,
      log: o.log,
      progress: o.progress,
      concurrency: Math.min(4, o.concurrency),
    });
    if (r.ok) {
      // Only a check against a listing or the structure writes a marker; a marker check confirms it.
      await o.progress.setPhase("Complete", `${r.files} files verified against the ${r.against}`, o.revision);
      return 0;
    }
    const message = `${r.problems.length} problem(s) verifying against the ${r.against}: ${r.problems.slice(0, 5).join("; ")}`;
    await o.progress.fail("ChecksumMismatch", message);
    process.stderr.write(`deepseek-operator weights verify: ChecksumMismatch: ${message}\n`);
    return 1;
  } catch (err) {
    const e =
      err instanceof WeightsError ? err : new WeightsError("NetworkError", (err as Error).message, { cause: err });
    await o.progress.fail(e.reason, e.message);
    process.stderr.write(`deepseek-operator weights verify: ${e.reason}: ${e.message}\n`);
    return e.exitCode;
  } finally {
    o.progress.stop();
  }
}
