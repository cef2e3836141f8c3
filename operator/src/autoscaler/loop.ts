// The builtin autoscaler: a loop of its own, run by the manager only while this process leads (not
// inside the reconcile of children). Each deployment with autoscaling.mode Builtin is visited every
// metrics.scrapeIntervalSeconds: read the replicas' load, ask the policy, and when the answer differs
// from spec.replicas write it through the scale subresource under its own field manager, after
// marking the idlest engine pod as the one to remove. What the policy remembers goes into
// status.autoscaling with every scale and with the (throttled) live metrics, so a new leader resumes
// the stabilization windows instead of starting them over.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { DeepSeekDeployment, DeepSeekDeploymentStatus } from "../api/index.ts";

import { resolveGpu } from "../planner/catalog.ts";
import { summarizeInventory, type NodeLike, type PodLike } from "../reconcile/gpu-inventory.ts";
import { withDefaults, type Cache } from "../controller/deepseek/observe.ts";
import type { ApplyClient } from "../controller/runtime/apply.ts";
import type { EventSpec } from "../reconcile/event-spec.ts";
import { isConflict, isInvalid } from "../controller/runtime/errors.ts";
import type { Logger } from "../util/log.ts";
import type { AutoscalerMetrics } from "./metrics.ts";
import { PodScraper, type PodSignal } from "./scrape.ts";
import { census, DELETION_COST, targetOf, type EnginePod, type ReplicaCensus } from "./replicas.ts";
import { readPrometheus } from "./prometheus.ts";
import { LABEL, queriesFor, type Dsd } from "../render/index.ts";
import {
  decide,
  initialPolicyState,
  policyConfigFromSpec,
  type PolicyDecision,
  type PolicyInput,
  type PolicyState,
  type ReplicaObservation,
} from "./policy/index.ts";

/** The pure policy (operator/src/autoscaler/policy/); injectable for tests. */
export type Policy = (input: PolicyInput, state: PolicyState, nowMs: number) => PolicyDecision;

/** Deployment-wide totals, when the source is Prometheus (it has no per-pod view). */
export interface Totals {
  queueDepth: number;
  runningRequests: number;
  tokensPerSecond?: number;
  kvCacheUsage?: number;
}

const AUTOSCALER_FIELD_MANAGER = "deepseek-operator-autoscaler";
/** Live metrics reach status at most this often per deployment (a status write costs the apiserver ~16 ms of CPU). */
const STATUS_MIN_INTERVAL_MS = 15_000;
/** The remembered windows are written at least this often even when the load is steady. */
const MEMORY_MAX_AGE_MS = 60_000;
/** Deletion cost of a pod whose load is unknown: removed after every pod whose load is known. */
const UNKNOWN_COST = 1_000_000;
const TICK_MS = 1_000;

export interface AutoscalerDeps {
  client: ApplyClient;
  dsds: Cache<DeepSeekDeployment>;
  pods: Cache<EnginePod>;
  nodes: Cache<NodeLike>;
  gpuPods: () => readonly PodLike[] | undefined;
  /** Events are recorded asynchronously and never fail a tick. */
  event: (dsd: KubernetesObject, e: EventSpec) => void;
  metrics: AutoscalerMetrics;
  log: Logger;
  policy?: Policy;
  now?: () => number;
  /** Engine /metrics and Prometheus reads; the global fetch otherwise. */
  fetch?: typeof fetch;
}

interface Memory {
  namespace: string;
  name: string;
  state: PolicyState;
  dueMs: number;
  scraper: PodScraper;
  lastStatusMs: number;
  written?: Written;
  busy: boolean;
}

interface Written {
  metrics: NonNullable<DeepSeekDeploymentStatus["metrics"]>;
  autoscaling: NonNullable<DeepSeekDeploymentStatus["autoscaling"]>;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The policy's memory as status.autoscaling last stored it (after a failover, or a restart). */
export function restoreState(status: DeepSeekDeploymentStatus | undefined): PolicyState {
  const raw = status?.autoscaling?.policyState;
  if (!raw) return initialPolicyState();
  try {
    const s = JSON.parse(raw) as Partial<PolicyState>;
    if (s.version === 1 && Array.isArray(s.recommendations) && Array.isArray(s.samples)) return s as PolicyState;
  } catch {
    // An unreadable memory is a lost one: the policy starts its windows from the current count.
  }
  return initialPolicyState();
}

/** A deployment the builtin loop serves: mode Builtin, engines planned, not being deleted. */
function served(d: Dsd): boolean {
  const phase = d.status?.phase;
  return (
    d.spec.autoscaling.mode === "Builtin" &&
    !d.metadata.deletionTimestamp &&
    (phase === "Loading" || phase === "Serving" || phase === "Degraded")
  );
}

export class AutoscalerLoop {
  readonly #d: AutoscalerDeps;
  readonly #policy: Policy;
  readonly #now: () => number;
  readonly #mem = new Map<string, Memory>();
  #timer: NodeJS.Timeout | undefined;
  #inflight = new Set<Promise<void>>();

  constructor(deps: AutoscalerDeps) {
    this.#d = deps;
    this.#policy = deps.policy ?? decide;
    this.#now = deps.now ?? Date.now;
  }

  start(): void {
    this.#timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops visiting and waits for visits in flight, so no write follows a lost lease. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#inflight]);
  }

  /** Visit every deployment that is due; returns at once (visits run in the background). */
  tick(): void {
    const now = this.#now();
    const seen = new Set<string>();
    for (const raw of this.#d.dsds.list()) {
      const dsd = withDefaults(raw);
      const uid = dsd.metadata.uid;
      if (!served(dsd)) continue;
      seen.add(uid);
      let m = this.#mem.get(uid);
      if (!m) {
        m = {
          namespace: dsd.metadata.namespace,
          name: dsd.metadata.name,
          state: restoreState(dsd.status),
          dueMs: now,
          scraper: new PodScraper(this.#d.fetch ? { fetch: this.#d.fetch } : {}),
          lastStatusMs: 0,
          busy: false,
        };
        this.#mem.set(uid, m);
      }
      if (m.busy || now < m.dueMs) continue;
      m.busy = true;
      m.dueMs = now + dsd.spec.autoscaling.metrics.scrapeIntervalSeconds * 1000;
      const mem = m;
      const p = this.visit(dsd, mem)
        .catch((err: unknown) =>
          this.#d.log.warn(
            { err, namespace: dsd.metadata.namespace, name: dsd.metadata.name },
            "autoscaler visit failed",
          ),
        )
        .finally(() => {
          mem.busy = false;
          this.#inflight.delete(p);
        });
      this.#inflight.add(p);
    }
    for (const [uid, m] of this.#mem)
      if (!seen.has(uid)) {
        this.#mem.delete(uid);
        this.#d.metrics.forget(m.namespace, m.name);
      }
  }

  /** One look at one deployment; exported for tests through tick(). */
  async visit(dsd: Dsd, m: Memory): Promise<void> {
    const { namespace, name } = dsd.metadata;
    const log = this.#d.log.child({ namespace, name, loop: "autoscaler" });
    const cfg = dsd.spec.autoscaling;
    const pods = this.#d.pods.list(namespace).filter((p) => p.metadata.labels?.[LABEL.instance] === name);
    const c = census(pods);
    const now = this.#now();
    const staleMs = cfg.metrics.staleAfterSeconds * 1000;
    const prom = cfg.metrics.prometheus;

    let signals: PodSignal[] = [];
    let totals: Totals | undefined;
    if (prom) {
      try {
        const q = queriesFor(dsd.spec.engine.type, namespace, name, prom.queries);
        totals = await readPrometheus(prom.url, q, this.#d.fetch ? { fetch: this.#d.fetch } : {});
      } catch (err) {
        this.#d.metrics.readErrors.inc({ namespace, name, source: "Prometheus" });
        log.warn({ err: (err as Error).message }, "Prometheus read failed; load unknown, no scale-down");
      }
    } else {
      const targets = c.ready.map(targetOf).filter((t) => t !== undefined);
      signals = await m.scraper.read(targets, dsd.spec.engine.type, now, staleMs);
      // A ready pod without an IP yet is read as missing.
      for (const p of c.ready)
        if (!targetOf(p))
          signals.push({ uid: p.metadata.uid ?? p.metadata.name, name: p.metadata.name, state: "missing" });
      for (const s of signals) if (s.error) this.#d.metrics.readErrors.inc({ namespace, name, source: "Pods" });
    }

    const gpusPerReplica = dsd.status?.plan?.gpusPerReplica;
    const freeGpus = this.#freeGpus(dsd);
    const loadTimeSeconds = c.loadTimeSeconds ?? dsd.status?.autoscaling?.loadTimeSeconds;
    const config = { ...policyConfigFromSpec(cfg), metricsStaleAfterSeconds: cfg.metrics.staleAfterSeconds };
    const input: PolicyInput = {
      config,
      currentReplicas: dsd.spec.replicas,
      replicas: observations(c, signals, totals, now),
      loadSeconds: loadTimeSeconds ?? 0,
      ...(freeGpus !== undefined && gpusPerReplica ? { placeableReplicas: Math.floor(freeGpus / gpusPerReplica) } : {}),
    };
    const out = this.#policy(input, m.state, now);
    m.state = out.state;

    const metrics = liveMetrics(prom ? "Prometheus" : "Pods", signals, totals, now);
    const autoscaling = strip({
      desiredReplicas: out.desired,
      reason: out.reason.slice(0, 1024),
      loadingReplicas: c.loading,
      crashLoopingReplicas: c.crashLooping,
      waitingForGpus: Math.max(c.waitingForGpus, out.details.unplaceable),
      freeGpus,
      loadTimeSeconds,
      policyState: JSON.stringify(out.state),
    });
    this.#export(namespace, name, metrics, autoscaling);

    const current = dsd.spec.replicas;
    if (out.desired !== current) {
      const down = out.desired < current;
      if (down) await this.#markIdlest(namespace, c.ready, signals, log);
      try {
        await this.#d.client.patch(
          { apiVersion: dsd.apiVersion, kind: dsd.kind, metadata: { name, namespace } },
          [
            // The scale is computed from this count; if someone else changed it meanwhile, the next visit decides again.
            { op: "test", path: "/spec/replicas", value: current },
            { op: "replace", path: "/spec/replicas", value: out.desired },
          ],
          "json",
          { subresource: "scale", fieldManager: AUTOSCALER_FIELD_MANAGER },
        );
      } catch (err) {
        if (isConflict(err) || isInvalid(err)) {
          log.info(
            { from: current, to: out.desired },
            "replicas changed under the autoscaler; deciding again next visit",
          );
          return;
        }
        throw err;
      }
      const reason = out.reason.slice(0, 1024);
      this.#d.metrics.scales.inc({ namespace, name, direction: down ? "down" : "up" });
      log.info({ from: current, to: out.desired, reason }, "scaled");
      await this.#writeStatus(dsd, m, { metrics, autoscaling }, { time: iso(now), reason }, now);
      this.#d.event(dsd as KubernetesObject, {
        type: "Normal",
        reason: down ? "ScaledDown" : "ScaledUp",
        action: "Scale",
        note: reason, // names the move (scale up 3→4) and the signal behind it
      });
      return;
    }
    if (
      now - m.lastStatusMs >= STATUS_MIN_INTERVAL_MS &&
      worthWriting(m.written, { metrics, autoscaling }, now - m.lastStatusMs)
    )
      await this.#writeStatus(dsd, m, { metrics, autoscaling }, undefined, now);
  }

  /** Lowest deletion cost on the replica with the fewest requests: the ReplicaSet removes it first. */
  async #markIdlest(namespace: string, ready: EnginePod[], signals: PodSignal[], log: Logger): Promise<void> {
    const byUid = new Map(signals.map((s) => [s.uid, s]));
    await Promise.all(
      ready.map(async (p) => {
        const s = byUid.get(p.metadata.uid ?? p.metadata.name);
        const cost =
          s && s.state === "fresh" ? Math.min(UNKNOWN_COST - 1, (s.running ?? 0) + (s.waiting ?? 0)) : UNKNOWN_COST;
        if (p.metadata.annotations?.[DELETION_COST] === String(cost)) return;
        try {
          await this.#d.client.patch(
            { apiVersion: "v1", kind: "Pod", metadata: { name: p.metadata.name, namespace } },
            { metadata: { annotations: { [DELETION_COST]: String(cost) } } },
            "merge",
            { fieldManager: AUTOSCALER_FIELD_MANAGER },
          );
        } catch (err) {
          log.warn({ err, pod: p.metadata.name }, "could not set the pod deletion cost");
        }
      }),
    );
  }

  async #writeStatus(
    dsd: Dsd,
    m: Memory,
    w: Written,
    scale: { time: string; reason: string } | undefined,
    now: number,
  ): Promise<void> {
    const status: DeepSeekDeploymentStatus = {
      metrics: w.metrics,
      autoscaling: w.autoscaling,
      ...(scale
        ? { lastScaleTime: scale.time, lastScaleReason: scale.reason }
        : strip({ lastScaleTime: dsd.status?.lastScaleTime, lastScaleReason: dsd.status?.lastScaleReason })),
    };
    await this.#d.client.applyStatus(
      {
        apiVersion: dsd.apiVersion,
        kind: dsd.kind,
        metadata: { name: dsd.metadata.name, namespace: dsd.metadata.namespace },
        status,
      },
      { fieldManager: AUTOSCALER_FIELD_MANAGER },
    );
    m.lastStatusMs = now;
    m.written = w;
  }

  #freeGpus(dsd: Dsd): number | undefined {
    try {
      const g = resolveGpu(dsd.spec.gpu.type);
      return summarizeInventory(
        { id: g.id, resourceName: g.resourceName, nodeLabel: { key: g.nodeLabel.key, value: g.nodeLabel.values[0]! } },
        this.#d.nodes.list(),
        this.#d.gpuPods(),
      ).free;
    } catch {
      return undefined;
    }
  }

  #export(namespace: string, name: string, metrics: Written["metrics"], a: Written["autoscaling"]): void {
    const l = { namespace, name };
    const x = this.#d.metrics;
    x.queueDepth.set(l, metrics.queueDepth ?? NaN);
    x.runningRequests.set(l, metrics.runningRequests ?? NaN);
    x.tokensPerSecond.set(l, metrics.tokensPerSecond ?? NaN);
    x.kvCacheUsage.set(l, metrics.kvCacheUsage ?? NaN);
    x.replicasStale.set(l, metrics.replicasStale ?? 0);
    x.desiredReplicas.set(l, a.desiredReplicas ?? NaN);
    x.loadingReplicas.set(l, a.loadingReplicas ?? 0);
    x.waitingForGpus.set(l, a.waitingForGpus ?? 0);
    if (a.loadTimeSeconds !== undefined) x.loadTimeSeconds.set(l, a.loadTimeSeconds);
  }
}

/**
 * The replicas as the policy reads them. Per-pod source: each ready replica's last good reading (a
 * stale one keeps its old time, so the policy sees it stale; one never read has none). Prometheus
 * source: the totals shared evenly by the ready replicas, or none when the query failed.
 */
export function observations(
  c: ReplicaCensus,
  signals: PodSignal[],
  totals: Totals | undefined,
  now: number,
): ReplicaObservation[] {
  const bySignal = new Map(signals.map((s) => [s.uid, s]));
  const ready = c.replicas.filter((r) => r.phase === "Ready").length;
  return c.replicas.map(({ pod, phase }) => {
    const obs: ReplicaObservation = { name: pod.metadata.name, phase };
    if (phase !== "Ready") return obs;
    if (totals) {
      obs.metrics = {
        at: now,
        waiting: totals.queueDepth / ready,
        running: totals.runningRequests / ready,
        tokensPerSecond: (totals.tokensPerSecond ?? 0) / ready,
        kvCacheUsage: totals.kvCacheUsage ?? 0,
      };
      return obs;
    }
    const s = bySignal.get(pod.metadata.uid ?? pod.metadata.name);
    if (s && s.state !== "missing" && s.readAtMs !== undefined)
      obs.metrics = {
        at: s.readAtMs,
        waiting: s.waiting ?? 0,
        running: s.running ?? 0,
        tokensPerSecond: s.tokensPerSecond ?? 0,
        kvCacheUsage: s.kvCacheUsage ?? 0,
        ...(s.finishedPerSecond !== undefined ? { completedPerSecond: s.finishedPerSecond } : {}),
      };
    return obs;
  });
}

/** status.metrics from what was read: sums over the replicas read fresh. */
export function liveMetrics(
  source: "Pods" | "Prometheus",
  pods: PodSignal[],
  totals: Totals | undefined,
  now: number,
): NonNullable<DeepSeekDeploymentStatus["metrics"]> {
  const sampledAt = iso(now);
  if (source === "Prometheus") {
    const t = totals;
    return strip({
      source: "Prometheus" as const,
      sampledAt,
      queueDepth: t?.queueDepth,
      runningRequests: t?.runningRequests,
      tokensPerSecond: t?.tokensPerSecond === undefined ? undefined : round(t.tokensPerSecond),
      kvCacheUsage: t?.kvCacheUsage === undefined ? undefined : round(Math.min(1, t.kvCacheUsage), 3),
    });
  }
  const fresh = pods.filter((p) => p.state === "fresh");
  const kv = fresh.map((p) => p.kvCacheUsage).filter((v) => v !== undefined);
  const rates = fresh.map((p) => p.tokensPerSecond).filter((v) => v !== undefined);
  return strip({
    source: "Pods" as const,
    sampledAt,
    replicasReporting: fresh.length,
    replicasStale: pods.length - fresh.length,
    queueDepth: fresh.length ? fresh.reduce((a, p) => a + (p.waiting ?? 0), 0) : undefined,
    runningRequests: fresh.length ? fresh.reduce((a, p) => a + (p.running ?? 0), 0) : undefined,
    tokensPerSecond: rates.length ? round(rates.reduce((a, b) => a + b, 0)) : undefined,
    kvCacheUsage: kv.length ? round(kv.reduce((a, b) => a + b, 0) / kv.length, 3) : undefined,
  });
}

/**
 * A status write only when a reader would see a difference: the desired count, its reason, the
 * replica counts, the queue by at least one request or 10 %, tokens/s by 10 %; and the remembered
 * windows at least every minute.
 */
export function worthWriting(prev: Written | undefined, next: Written, sinceMs: number): boolean {
  if (!prev) return true;
  const a = prev.autoscaling;
  const b = next.autoscaling;
  if (
    a.desiredReplicas !== b.desiredReplicas ||
    a.reason !== b.reason ||
    a.loadingReplicas !== b.loadingReplicas ||
    a.crashLoopingReplicas !== b.crashLoopingReplicas ||
    a.waitingForGpus !== b.waitingForGpus ||
    a.loadTimeSeconds !== b.loadTimeSeconds
  )
    return true;
  const pm = prev.metrics;
  const nm = next.metrics;
  if (pm.replicasStale !== nm.replicasStale || pm.replicasReporting !== nm.replicasReporting) return true;
  const moved = (x: number | undefined, y: number | undefined, abs: number) =>
    (x === undefined) !== (y === undefined) ||
    (x !== undefined && y !== undefined && Math.abs(x - y) >= Math.max(abs, 0.1 * Math.max(Math.abs(x), Math.abs(y))));
  if (moved(pm.queueDepth, nm.queueDepth, 1) || moved(pm.runningRequests, nm.runningRequests, 1)) return true;
  if (moved(pm.tokensPerSecond, nm.tokensPerSecond, 1) || moved(pm.kvCacheUsage, nm.kvCacheUsage, 0.05)) return true;
  return sinceMs >= MEMORY_MAX_AGE_MS && a.policyState !== b.policyState;
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function strip<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
