// Human-readable reasons: they go to status and to the Event of each scale, so they name the signal
// and its numbers.
import type { Fleet } from "./signals.ts";
import type { PolicyConfig, Signal } from "./types.ts";

const f1 = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

export function describeSignal(signal: Signal, need: number, fleet: Fleet, config: PolicyConfig): string {
  const m = fleet.metrics;
  const ready = fleet.counts.ready;
  const needs = `needs ${f1(need)} replicas`;
  switch (signal) {
    case "queue":
      return (
        `queue: ${f1(m?.waiting ?? 0)} waiting on ${ready} ready replicas ` +
        `(target ${config.targetQueueDepth} each) ${needs}`
      );
    case "tokens":
      return (
        `tokens: ${Math.round(m?.tokensPerSecond ?? 0)}/s generated ` +
        `(target ${config.targetTokensPerSecond}/s per replica) ${needs}`
      );
    case "kv-cache":
      return `kv-cache: ${pct(m?.kvCacheUsage ?? 0)} used (guard ${pct(config.targetKvCacheUsage)}) ${needs}`;
    case "trend":
      return `trend: rising load projected over the load time ${needs}`;
    case "min":
      return `minReplicas is ${config.minReplicas}`;
    case "max":
      return `maxReplicas is ${config.maxReplicas}`;
    case "none":
      return "no signal";
  }
}

export function describeCapacity(fleet: Fleet): string {
  const c = fleet.counts;
  const parts = [`${c.ready} ready`];
  if (c.loading > 0) parts.push(`${c.loading} loading (coming capacity)`);
  if (c.pending > 0) parts.push(`${c.pending} pending`);
  if (c.crashLooping > 0) parts.push(`${c.crashLooping} crash-looping (not capacity)`);
  if (c.unknown > 0) parts.push(`${c.unknown} without fresh metrics`);
  return parts.join(", ");
}
