// The autoscaling policy's inputs, outputs and remembered state. Everything here is plain data: the
// state is written to the DeepSeekDeployment (annotation or status) after every decision so a new
// leader continues with the same windows instead of starting blind.

/** Tuning of the policy; `policyConfigFromSpec` maps `spec.autoscaling` onto it. */
export interface PolicyConfig {
  minReplicas: number;
  maxReplicas: number;
  /** Waiting requests per ready replica the fleet may carry before it needs more capacity. */
  targetQueueDepth: number;
  /** Generated tokens/s per replica at the wanted utilisation; without it throughput is not a signal. */
  targetTokensPerSecond?: number;
  /** KV-cache usage (0..1) above which replicas are close to preempting; a guard, not a target. */
  targetKvCacheUsage: number;
  /** Scale up to the lowest recommendation of this window (HPA's scaleUp.stabilizationWindowSeconds). */
  scaleUpStabilizationSeconds: number;
  /** Scale down to the highest recommendation of this window; never shorter than the load time allows. */
  scaleDownStabilizationSeconds: number;
  /** The scale-down window is at least this multiple of the measured load time. */
  scaleDownLoadTimeFactor: number;
  /** Relative change of need below which nothing moves (HPA's 0.1). */
  tolerance: number;
  /** Most replicas one scale-up adds. */
  maxScaleUpStep: number;
  /** Most replicas one scale-down removes. */
  maxScaleDownStep: number;
  /** A replica's metrics older than this are stale: not idle, not busy, unknown. */
  metricsStaleAfterSeconds: number;
  /** Seconds over which a queue backlog should drain once capacity arrives (default 300). */
  backlogDrainSeconds?: number;
  /** Fit a trend to recent need and provision for where it will be when a new replica is ready. */
  anticipate: boolean;
  /** Span of the samples the trend is fitted on. */
  trendWindowSeconds: number;
  /** Least coefficient of determination (R²) a trend needs before it is acted on (noise is not a trend). */
  trendMinR2: number;
}

/** One engine replica (a multi-node replica is read from its leader). */
export interface ReplicaObservation {
  name: string;
  /**
   * Ready: serving. Loading: created, scheduled, not yet Ready (weights loading). Pending: not scheduled,
   * e.g. waiting for GPUs. CrashLooping: restarting; not capacity. Draining: being removed; not counted.
   */
  phase: "Ready" | "Loading" | "Pending" | "CrashLooping" | "Draining";
  /** Last scrape of a Ready replica; absent when it never answered. */
  metrics?: ReplicaMetrics;
}

export interface ReplicaMetrics {
  /** When the scrape was taken (ms since the epoch). */
  at: number;
  /** vllm:num_requests_waiting, sglang:num_queue_reqs. */
  waiting: number;
  /** vllm:num_requests_running, sglang:num_running_reqs. */
  running: number;
  /** Rate of vllm:generation_tokens_total (sglang:gen_throughput). */
  tokensPerSecond: number;
  /** vllm:kv_cache_usage_perc, sglang:token_usage; 0..1. */
  kvCacheUsage: number;
  /** Rate of finished requests (vllm:request_success_total); lets the queue signal see the arrival rate. */
  completedPerSecond?: number;
}

export interface PolicyInput {
  config: PolicyConfig;
  /** spec.replicas now: what the scale subresource says. */
  currentReplicas: number;
  /** The replicas that exist; spec.replicas not yet created are counted as Pending. */
  replicas: ReplicaObservation[];
  /** Measured pod-created → Ready of this deployment, in seconds. */
  loadSeconds: number;
  /** How many more replicas the free GPUs of the type can place now; absent when unknown. */
  placeableReplicas?: number;
}

export interface PolicySample {
  at: number;
  /** Replicas of working capacity the signals asked for (before anticipation and stabilization). */
  need: number;
  /** Total waiting requests, for the queue's growth rate. */
  waiting: number;
}

export interface Recommendation {
  at: number;
  replicas: number;
}

export interface LastScale {
  at: number;
  from: number;
  to: number;
  direction: "up" | "down";
  reason: string;
}

/** What the policy remembers between decisions; JSON-serializable, times in ms since the epoch. */
export interface PolicyState {
  version: 1;
  recommendations: Recommendation[];
  samples: PolicySample[];
  lastScale?: LastScale;
  /** Since when decisions have been recorded without a gap; a scale-down needs a full window of them. */
  observedSince?: number;
  /** Running sequences a full replica holds, as last seen on replicas that queue. */
  slotsPerReplica?: number;
}

export type Signal = "queue" | "tokens" | "kv-cache" | "trend" | "min" | "max" | "none";

export interface FleetCounts {
  ready: number;
  /** Ready replicas whose metrics are fresh. */
  reporting: number;
  /** Ready replicas with missing or stale metrics. */
  unknown: number;
  loading: number;
  pending: number;
  crashLooping: number;
}

export interface FleetMetrics {
  waiting: number;
  running: number;
  tokensPerSecond: number;
  /** Mean over reporting replicas. */
  kvCacheUsage: number;
  completedPerSecond?: number;
}

export interface PolicyDetails {
  direction: "up" | "down" | "none";
  /** The signal that set the recommendation. */
  signal: Signal;
  /** Working replicas each signal asks for (fractional). */
  needs: Partial<Record<"queue" | "tokens" | "kv-cache" | "trend", number>>;
  /** This decision's recommendation before the stabilization windows (spec replicas). */
  recommendation: number;
  counts: FleetCounts;
  /** Fleet totals extrapolated from the reporting replicas to all ready ones; absent when none reports. */
  metrics?: FleetMetrics;
  /** Why a scale-down did not happen, when one was wanted. */
  scaleDownHeld?: string;
  /** Why a scale-up was smaller than the recommendation, when it was. */
  scaleUpLimited?: string;
  /** Desired replicas the free GPUs cannot place now (a cluster autoscaler may still add nodes). */
  unplaceable: number;
  /** The scale-down window in force (seconds): the configured one or the load-time floor. */
  scaleDownWindowSeconds: number;
}

export interface PolicyDecision {
  desired: number;
  /** Human-readable, names the signal: goes to status and the scale Event. */
  reason: string;
  state: PolicyState;
  details: PolicyDetails;
}
