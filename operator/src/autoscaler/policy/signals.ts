// From per-replica observations to fleet counts and totals. Only Ready replicas with fresh metrics are
// read; their totals are scaled up to every Ready replica, because a replica whose scrape failed is
// still serving its share of the load: it is unknown, never idle.
import type { FleetCounts, FleetMetrics, PolicyInput } from "./types.ts";

export interface Fleet {
  counts: FleetCounts;
  /** Undefined when no Ready replica has fresh metrics. */
  metrics?: FleetMetrics;
  /** Mean running sequences on reporting replicas that also queue: what one replica holds when full. */
  slotsPerReplica?: number;
}

export function readFleet(input: PolicyInput, now: number, staleAfterSeconds: number): Fleet {
  const counts: FleetCounts = { ready: 0, reporting: 0, unknown: 0, loading: 0, pending: 0, crashLooping: 0 };
  let waiting = 0;
  let running = 0;
  let tokens = 0;
  let kv = 0;
  let completed = 0;
  let completedKnown = true;
  let fullRunning = 0;
  let full = 0;
  let listed = 0;
  for (const r of input.replicas) {
    if (r.phase === "Draining") continue;
    listed++;
    if (r.phase === "Loading") counts.loading++;
    else if (r.phase === "Pending") counts.pending++;
    else if (r.phase === "CrashLooping") counts.crashLooping++;
    else {
      counts.ready++;
      const m = r.metrics;
      const fresh = m !== undefined && now - m.at <= staleAfterSeconds * 1000 && m.at <= now + 1000 && valid(m);
      if (!fresh) {
        counts.unknown++;
        continue;
      }
      counts.reporting++;
      waiting += m.waiting;
      running += m.running;
      tokens += m.tokensPerSecond;
      kv += m.kvCacheUsage;
      if (m.completedPerSecond === undefined) completedKnown = false;
      else completed += m.completedPerSecond;
      if (m.waiting > 0) {
        full++;
        fullRunning += m.running;
      }
    }
  }
  // spec.replicas the workload controller has not created yet are capacity on its way.
  counts.pending += Math.max(0, input.currentReplicas - listed);
  const fleet: Fleet = { counts };
  if (counts.reporting === 0) return fleet;
  const scale = counts.ready / counts.reporting;
  fleet.metrics = {
    waiting: waiting * scale,
    running: running * scale,
    tokensPerSecond: tokens * scale,
    kvCacheUsage: kv / counts.reporting,
    ...(completedKnown ? { completedPerSecond: completed * scale } : {}),
  };
  if (full > 0 && fullRunning > 0) fleet.slotsPerReplica = fullRunning / full;
  return fleet;
}

function valid(m: { waiting: number; running: number; tokensPerSecond: number; kvCacheUsage: number }): boolean {
  return [m.waiting, m.running, m.tokensPerSecond, m.kvCacheUsage].every((v) => Number.isFinite(v) && v >= 0);
}
