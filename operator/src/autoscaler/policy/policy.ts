// The autoscaling decision: pure, deterministic, no I/O. The caller scrapes, decides, writes the state
// back next to the object and applies `desired` through the scale subresource.
import { checkPolicyConfig } from "./config.ts";
import { signalNeeds, type Needs } from "./needs.ts";
import { describeCapacity, describeSignal } from "./reason.ts";
import { readFleet, type Fleet } from "./signals.ts";
import { pruneRecommendations, stabilize } from "./stabilize.ts";
import { fitLine } from "./trend.ts";
import type { PolicyDecision, PolicyDetails, PolicyInput, PolicySample, PolicyState, Signal } from "./types.ts";

/** More samples than this are never kept, whatever the window (the state lives in an annotation). */
const MAX_SAMPLES = 240;
/** A projection may at most double today's need: a steep start of a line is not a promise. */
const MAX_TREND_FACTOR = 2;

export function decide(input: PolicyInput, state: PolicyState, now: number): PolicyDecision {
  const config = input.config;
  checkPolicyConfig(config);
  const current = input.currentReplicas;
  const fleet = readFleet(input, now, config.metricsStaleAfterSeconds);
  const counts = fleet.counts;
  const downWindow = Math.max(config.scaleDownStabilizationSeconds, config.scaleDownLoadTimeFactor * input.loadSeconds);
  const keepSeconds = Math.max(config.scaleUpStabilizationSeconds, downWindow);

  // A gap longer than the down-window (the loop was off, or the state was lost) restarts the history.
  const lastSeen = state.recommendations[state.recommendations.length - 1]?.at;
  const continuous =
    lastSeen !== undefined && now - lastSeen <= keepSeconds * 1000 && state.observedSince !== undefined;
  const observedSince = continuous ? state.observedSince! : now;
  const slotsPerReplica = fleet.slotsPerReplica ?? state.slotsPerReplica;

  // Needs, in working replicas.
  // The trend is fitted over at least one load time: that is the horizon it is projected over.
  const trendWindow = Math.max(config.trendWindowSeconds, input.loadSeconds);
  let samples: PolicySample[] = state.samples.filter((s) => s.at <= now && now - s.at <= trendWindow * 1000);
  let needs: Needs & { trend?: number } = {};
  let need: number | undefined;
  let signal: Signal = "none";
  if (fleet.metrics !== undefined) {
    const provisional: PolicySample = { at: now, need: 0, waiting: fleet.metrics.waiting };
    needs = signalNeeds({
      config,
      fleet,
      slotsPerReplica,
      samples: [...samples, provisional],
      loadSeconds: input.loadSeconds,
    });
    [signal, need] = largest(needs);
    provisional.need = need;
    samples = [...samples, provisional].slice(-MAX_SAMPLES);
    if (config.anticipate) {
      const projected = anticipate(samples, input.loadSeconds, config.trendMinR2);
      if (projected !== undefined && projected > need) {
        needs.trend = Math.min(projected, MAX_TREND_FACTOR * Math.max(need, 1));
        if (needs.trend > need) [signal, need] = ["trend", needs.trend];
      }
    }
  }

  // The recommendation, in spec replicas.
  const coming = counts.ready + counts.loading + counts.pending;
  let recommendation = current;
  let scaleDownHeld: string | undefined;
  if (need !== undefined) {
    const ratio = coming > 0 ? need / coming : Infinity;
    recommendation = Math.abs(ratio - 1) <= config.tolerance ? current : Math.ceil(need - 1e-9) + counts.crashLooping;
  }
  recommendation = clamp(recommendation, config.minReplicas, config.maxReplicas);
  if (recommendation < current) {
    if (need === undefined) scaleDownHeld = "no ready replica has fresh metrics";
    else if (counts.unknown > 0) scaleDownHeld = `${counts.unknown} ready replicas have missing or stale metrics`;
    if (scaleDownHeld !== undefined) recommendation = Math.min(current, config.maxReplicas);
  }
  // Without a history the windows start from the current count, as a new HPA does: the first
  // decision after a restart or a lost state cannot move at once.
  const history = continuous ? state.recommendations : [{ at: now, replicas: current }];
  const recommendations = pruneRecommendations([...history, { at: now, replicas: recommendation }], now, keepSeconds);

  // Stabilization, limits and the reversal guard.
  let desired = current;
  let why = "";
  let scaleUpLimited: string | undefined;
  const { upTo, downTo } = stabilize(recommendations, now, config.scaleUpStabilizationSeconds, downWindow);
  const last = state.lastScale;
  let rising: number | undefined;
  if (current < config.minReplicas || current > config.maxReplicas) {
    desired = clamp(current, config.minReplicas, config.maxReplicas);
    signal = current < config.minReplicas ? "min" : "max";
  } else if (upTo > current) {
    desired = Math.min(upTo, current + config.maxScaleUpStep);
    if (desired < upTo) scaleUpLimited = `at most ${config.maxScaleUpStep} replicas per step`;
    if (last?.direction === "down" && now - last.at < config.scaleUpStabilizationSeconds * 1000) {
      desired = current;
      const ago = Math.round((now - last.at) / 1000);
      why = `scaled down ${ago}s ago, inside the ${config.scaleUpStabilizationSeconds}s up-window`;
    }
  } else if (downTo < current) {
    if (now - observedSince < downWindow * 1000) {
      const seen = Math.round((now - observedSince) / 1000);
      scaleDownHeld = `${seen}s of history, the scale-down window is ${Math.round(downWindow)}s`;
    } else if (last?.direction === "up" && now - last.at < downWindow * 1000) {
      const ago = Math.round((now - last.at) / 1000);
      scaleDownHeld = `scaled up ${ago}s ago, inside the ${Math.round(downWindow)}s down-window`;
    } else if (
      config.anticipate &&
      (rising = risingNeed(samples, input.loadSeconds)) !== undefined &&
      rising > downTo - counts.crashLooping
    ) {
      // Removing a replica the rising load wants back within one load time costs a whole cold start.
      scaleDownHeld = `need is rising (${rising.toFixed(1)} replicas in ${Math.round(input.loadSeconds)}s)`;
    } else {
      desired = Math.max(downTo, current - config.maxScaleDownStep);
    }
  } else if (recommendation < current) {
    scaleDownHeld ??= `a recommendation of the last ${Math.round(downWindow)}s asked for ${downTo}`;
  }

  const direction = desired > current ? "up" : desired < current ? "down" : "none";
  const scheduled = counts.ready + counts.loading + counts.crashLooping;
  const unplaceable =
    input.placeableReplicas === undefined ? 0 : Math.max(0, desired - scheduled - input.placeableReplicas);
  if (direction === "down") why = `the highest recommendation of the last ${Math.round(downWindow)}s is ${downTo}`;
  if (direction === "up" && config.scaleUpStabilizationSeconds > 0) {
    why = `the lowest recommendation of the last ${config.scaleUpStabilizationSeconds}s is ${upTo}`;
  }
  const reason = explain(direction, current, desired, signal, need ?? 0, fleet, input, why, scaleDownHeld, unplaceable);
  const newState: PolicyState = {
    version: 1,
    recommendations,
    samples,
    observedSince,
    ...(slotsPerReplica !== undefined ? { slotsPerReplica } : {}),
    ...(direction === "none"
      ? state.lastScale !== undefined
        ? { lastScale: state.lastScale }
        : {}
      : { lastScale: { at: now, from: current, to: desired, direction, reason } }),
  };
  const details: PolicyDetails = {
    direction,
    signal,
    needs,
    recommendation,
    counts,
    ...(fleet.metrics !== undefined ? { metrics: fleet.metrics } : {}),
    ...(scaleDownHeld !== undefined && direction !== "down" ? { scaleDownHeld } : {}),
    ...(scaleUpLimited !== undefined ? { scaleUpLimited } : {}),
    unplaceable,
    scaleDownWindowSeconds: downWindow,
  };
  return { desired, reason, state: newState, details };
}

function largest(needs: Needs): [Signal, number] {
  let best: [Signal, number] = ["none", 0];
  for (const [k, v] of Object.entries(needs) as Array<[Signal, number | undefined]>) {
    if (v !== undefined && Number.isFinite(v) && v > best[1]) best = [k, v];
  }
  return best;
}

/** Where the need will be when a replica ordered now is ready; undefined unless it is rising along a line. */
function anticipate(samples: readonly PolicySample[], loadSeconds: number, minR2: number): number | undefined {
  const fit = fitLine(samples.map((s) => [s.at, s.need] as const));
  if (fit === undefined || fit.slope <= 0 || fit.r2 < minR2) return undefined;
  const first = samples[0]!.at;
  const last = samples[samples.length - 1]!.at;
  // A line says nothing about a future longer than the past it was fitted on.
  const span = (last - first) / 1000;
  if (span < Math.min(loadSeconds, 120)) return undefined;
  return fit.last + fit.slope * Math.min(loadSeconds, span);
}

/** Projected need one load time ahead when the fitted need is rising at all (no fit quality asked: holding is safe). */
function risingNeed(samples: readonly PolicySample[], loadSeconds: number): number | undefined {
  const fit = fitLine(samples.map((s) => [s.at, s.need] as const));
  if (fit === undefined || fit.slope <= 0) return undefined;
  return fit.last + fit.slope * loadSeconds;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function explain(
  direction: "up" | "down" | "none",
  current: number,
  desired: number,
  signal: Signal,
  need: number,
  fleet: Fleet,
  input: PolicyInput,
  why: string,
  held: string | undefined,
  unplaceable: number,
): string {
  const head = direction === "none" ? `holding at ${current}` : `scale ${direction} ${current}→${desired}`;
  const parts = [`${head}: ${describeSignal(signal, need, fleet, input.config)}`, describeCapacity(fleet)];
  if (why) parts.push(why);
  if (held !== undefined && direction !== "down") parts.push(`no scale-down: ${held}`);
  if (unplaceable > 0) parts.push(`${unplaceable} desired replicas cannot be placed on free GPUs`);
  return parts.join("; ");
}
