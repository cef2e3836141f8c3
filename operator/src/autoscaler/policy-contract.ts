// The contract between the autoscaler loop (this folder, the I/O edge) and the pure scaling policy.
// The loop gathers everything below each tick, calls the policy, persists the state it returns in
// status.autoscaling (so a new leader resumes it) and writes `desired` through the scale subresource.
import type { DeepSeekDeploymentSpec } from "../api/index.ts";
import type { PodSignal } from "./scrape.ts";

export type AutoscalingConfig = DeepSeekDeploymentSpec["autoscaling"];

/** Deployment-wide totals, when the source is Prometheus (it has no per-pod view). */
export interface Totals {
  queueDepth: number;
  runningRequests: number;
  tokensPerSecond?: number;
  kvCacheUsage?: number;
}

export interface PolicyInput {
  config: AutoscalingConfig;
  /** spec.replicas now. */
  currentReplicas: number;
  /** Replicas whose leader pod is Ready. */
  readyReplicas: number;
  /** Created, not Ready yet, not crash-looping, scheduled or still being scheduled: capacity that is coming. */
  loadingReplicas: number;
  /** Crash-looping replicas: not capacity. */
  crashLoopingReplicas: number;
  /** Replicas whose pods are unschedulable (no GPUs of the type free for them). */
  waitingForGpus: number;
  /** Free GPUs of the type in the cluster, when known. */
  freeGpus?: number;
  gpusPerReplica?: number;
  /** Seconds from pod creation to Ready, measured on this deployment; undefined before the first load. */
  loadTimeSeconds?: number;
  /** Source Pods: one signal per ready replica (fresh, stale or missing). */
  pods: PodSignal[];
  /** Source Prometheus: totals, or undefined when the query failed (treat like missing metrics). */
  totals?: Totals;
  source: "Pods" | "Prometheus";
}

export interface Recommendation {
  atMs: number;
  replicas: number;
}

/** What the policy remembers between ticks; the loop persists it and restores it after a failover. */
export interface PolicyState {
  recommendations: Recommendation[];
  lastScaleAtMs?: number;
}

export interface PolicyResult {
  desired: number;
  reason: string;
  state: PolicyState;
}

export type Policy = (input: PolicyInput, state: PolicyState, nowMs: number) => PolicyResult;
