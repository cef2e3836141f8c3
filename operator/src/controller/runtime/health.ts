// /healthz (liveness) and /readyz (readiness) with controller-runtime's pkg/healthz semantics: named checks,
// GET /healthz → 200 "ok" or 500 listing "[-]<name> failed: reason withheld"; ?verbose lists every check;
// ?exclude=<name> skips one; /healthz/<name> runs just that check and shows its reason.
//
// What the operator wires (see docs/controller-runtime.md):
//   readyz  — every informer has synced. Independent of leadership: a follower with warm caches is ready, so a
//             rolling update can make the new pod Ready while the old one still holds the lease.
//   healthz — no informer stream has been down for longer than a threshold; the kubelet then restarts the pod,
//             the last resort after the informer's own restarts.
import type { IncomingMessage, ServerResponse } from "node:http";
import { rootLogger, type Logger } from "../../util/log.ts";
import { listen, type ListenOptions, type RunningServer } from "./httpserver.ts";
import type { InformerHealth } from "./informer.ts";
import { compareStrings } from "../../util/compare.ts";

/** A check returns undefined when healthy, or the reason it is not (logged, not sent in the aggregate response). */
export type HealthCheck = () => string | undefined | Promise<string | undefined>;

export const ping: HealthCheck = () => undefined;

/** Anything reporting informer health (an Informer). */
export interface HealthReporter {
  readonly name: string;
  health(): InformerHealth;
}

/** Readiness: every informer's cache has completed its first list. */
export function informersSynced(informers: () => readonly HealthReporter[]): HealthCheck {
  return () => {
    const waiting = informers()
      .filter((i) => !i.health().synced)
      .map((i) => i.name);
    return waiting.length ? `caches not synced: ${waiting.join(", ")}` : undefined;
  };
}

/** Liveness: no informer stream has been failing for longer than maxDownMs. */
export function informersLive(informers: () => readonly HealthReporter[], maxDownMs: number): HealthCheck {
  return () => {
    const dead = informers()
      .map((i) => ({ name: i.name, h: i.health() }))
      .filter((x) => x.h.downForMs > maxDownMs)
      .map((x) => `${x.name} down for ${Math.round(x.h.downForMs / 1000)} s (${x.h.lastError ?? "no error"})`);
    return dead.length ? `watch streams dead: ${dead.join("; ")}` : undefined;
  };
}

/**
 * The leader's controllers: failing while this process should be working (it leads, or runs without leader
 * election) but its controllers do not run, once that has lasted longer than graceMs (their start: discovery and
 * the caches' first lists). A follower passes. controller-runtime's leader exits when its controllers fail; this
 * check covers a start that hangs instead, and tells readiness that a new leader is not reconciling yet.
 */
export function leaderWorking(o: {
  shouldWork: () => boolean;
  working: () => boolean;
  graceMs: number;
  now?: () => number;
}): HealthCheck {
  const now = o.now ?? Date.now;
  let idleSince: number | undefined;
  return () => {
    if (!o.shouldWork() || o.working()) {
      idleSince = undefined;
      return undefined;
    }
    idleSince ??= now();
    const idle = now() - idleSince;
    return idle >= o.graceMs
      ? `leading, but the controllers have not been running for ${Math.round(idle / 1000)} s`
      : undefined;
  };
}

type Endpoint = "healthz" | "readyz";

export class HealthProbes {
  readonly #checks: Record<Endpoint, Map<string, HealthCheck>> = { healthz: new Map(), readyz: new Map() };
  readonly #log: Logger;

  constructor(log?: Logger) {
    this.#log = (log ?? rootLogger).child({ component: "health" });
  }

  addHealthzCheck(name: string, check: HealthCheck): this {
    this.#checks.healthz.set(name, check);
    return this;
  }

  addReadyzCheck(name: string, check: HealthCheck): this {
    this.#checks.readyz.set(name, check);
    return this;
  }

  /** Serve both endpoints on their own port (controller-runtime's --health-probe-bind-address, :8081). */
  serve(opts: ListenOptions): Promise<RunningServer> {
    return listen(
      opts,
      (req, res) => this.handle(req, res),
      (err) => this.#log.error({ err }, "probe handler failed"),
    );
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://probe");
    const [, endpoint, single, extra] = url.pathname.split("/");
    if (
      (endpoint !== "healthz" && endpoint !== "readyz") ||
      extra !== undefined ||
      (req.method !== "GET" && req.method !== "HEAD")
    ) {
      return text(res, 404, "not found\n");
    }
    const checks = this.#checks[endpoint];
    if (single) {
      const check = checks.get(single);
      if (!check) return text(res, 404, `no such check: ${single}\n`);
      const reason = await run(check);
      return reason === undefined ? text(res, 200, "ok") : text(res, 500, `internal server error: ${reason}\n`);
    }
    const excluded = new Set(url.searchParams.getAll("exclude"));
    const entries = checks.size ? [...checks] : ([["ping", ping]] as Array<[string, HealthCheck]>);
    const lines: string[] = [];
    let failed = false;
    for (const [name, check] of entries.sort(([a], [b]) => compareStrings(a, b))) {
      if (excluded.has(name)) {
        lines.push(`[+]${name} excluded: ok`);
        continue;
      }
      const reason = await run(check);
      if (reason === undefined) {
        lines.push(`[+]${name} ok`);
      } else {
        failed = true;
        lines.push(`[-]${name} failed: reason withheld`);
        this.#log.info({ check: name, endpoint, reason }, `${endpoint} check failed`);
      }
    }
    if (failed) return text(res, 500, `${lines.join("\n")}\n${endpoint} check failed\n`);
    if (!url.searchParams.has("verbose")) return text(res, 200, "ok");
    return text(res, 200, `${lines.join("\n")}\n${endpoint} check passed\n`);
  }
}

async function run(check: HealthCheck): Promise<string | undefined> {
  try {
    return await check();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function text(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  res.end(body);
}

/**
 * Shorthand for a manager that already knows its own health: one check per endpoint, named "manager".
 * Equivalent to new HealthProbes().addHealthzCheck(...).addReadyzCheck(...).serve(opts).
 */
export function serveHealth(
  opts: ListenOptions,
  checks: { healthz: () => boolean; readyz: () => boolean },
  log?: Logger,
): Promise<RunningServer> {
  return new HealthProbes(log)
    .addHealthzCheck("manager", () => (checks.healthz() ? undefined : "manager reports unhealthy"))
    .addReadyzCheck("manager", () => (checks.readyz() ? undefined : "manager not ready"))
    .serve(opts);
}
