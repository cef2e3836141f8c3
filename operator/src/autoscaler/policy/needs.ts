// How many working replicas each signal asks for. A need is fractional; 1.0 is one replica's worth.
import { fitLine } from "./trend.ts";
import type { Fleet } from "./signals.ts";
import type { PolicyConfig, PolicySample } from "./types.ts";

export interface Needs {
  queue?: number;
  tokens?: number;
  "kv-cache"?: number;
}

export interface NeedContext {
  config: PolicyConfig;
  fleet: Fleet;
  /** Running sequences one replica holds when full, learned from replicas that queue. */
  slotsPerReplica: number | undefined;
  /** Recent samples, oldest first, including this decision's. */
  samples: readonly PolicySample[];
  loadSeconds: number;
}

export function signalNeeds(ctx: NeedContext): Needs {
  const { config, fleet } = ctx;
  const m = fleet.metrics;
  const ready = fleet.counts.ready;
  if (m === undefined || ready === 0) return {};
  const needs: Needs = { queue: queueNeed(ctx) };
  if (config.targetTokensPerSecond !== undefined) needs.tokens = m.tokensPerSecond / config.targetTokensPerSecond;
  // A guard: it only wins when KV is the tighter constraint, and it keeps a scale-down from pushing the
  // remaining replicas into preemption.
  needs["kv-cache"] = (ready * m.kvCacheUsage) / config.targetKvCacheUsage;
  return needs;
}

/**
 * The queue's need. A queue is a backlog, not a rate: it keeps growing while replicas load, so reading
 * its length as demand would order replicas for requests already covered by capacity on its way. When
 * the engines report finished requests, the arrival rate is the finish rate plus the queue's growth,
 * and the backlog above target adds what drains it within the drain horizon. Without finish rates, in-flight
 * requests over what a replica holds plus its queue target stand in (Little's law on a full replica).
 */
/** Drain a backlog within five minutes of the capacity arriving: long waits are what users notice. */
export const DEFAULT_DRAIN_SECONDS = 300;

export function queueNeed(ctx: NeedContext): number {
  const { config, fleet, slotsPerReplica } = ctx;
  const m = fleet.metrics!;
  const ready = fleet.counts.ready;
  const target = config.targetQueueDepth;
  const overTarget = m.waiting > target * ready;
  const perReplicaRate = m.completedPerSecond !== undefined ? m.completedPerSecond / ready : 0;
  if (overTarget && perReplicaRate > 0) {
    const growth = waitingGrowth(ctx.samples);
    const horizon = config.backlogDrainSeconds ?? DEFAULT_DRAIN_SECONDS;
    const backlog = m.waiting - target * ready;
    const arrival = m.completedPerSecond! + Math.max(0, growth);
    return (arrival + backlog / horizon) / perReplicaRate;
  }
  if (slotsPerReplica !== undefined && slotsPerReplica > 0) return (m.running + m.waiting) / (slotsPerReplica + target);
  return m.waiting / target;
}

/** Seconds of samples the queue's growth rate is fitted on: recent enough to see a spike start. */
export const GROWTH_WINDOW_SECONDS = 180;

/** Requests per second the total queue grew by lately (negative when draining). */
export function waitingGrowth(samples: readonly PolicySample[]): number {
  const last = samples[samples.length - 1];
  if (last === undefined) return 0;
  const recent = samples.filter((s) => s.at >= last.at - GROWTH_WINDOW_SECONDS * 1000);
  return fitLine(recent.map((s) => [s.at, s.waiting] as const))?.slope ?? 0;
}
