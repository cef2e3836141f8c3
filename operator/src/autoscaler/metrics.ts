// The autoscaler's own Prometheus metrics, per deployment, on the operator's /metrics registry:
// the signals it read and what it decided, so a dashboard shows why a replica came or went.
import { Counter, Gauge, type Registry } from "prom-client";

const L = ["namespace", "name"] as const;

export class AutoscalerMetrics {
  readonly queueDepth: Gauge<"namespace" | "name">;
  readonly runningRequests: Gauge<"namespace" | "name">;
  readonly tokensPerSecond: Gauge<"namespace" | "name">;
  readonly kvCacheUsage: Gauge<"namespace" | "name">;
  readonly replicasStale: Gauge<"namespace" | "name">;
  readonly desiredReplicas: Gauge<"namespace" | "name">;
  readonly loadingReplicas: Gauge<"namespace" | "name">;
  readonly waitingForGpus: Gauge<"namespace" | "name">;
  readonly loadTimeSeconds: Gauge<"namespace" | "name">;
  readonly scales: Counter<"namespace" | "name" | "direction">;
  readonly readErrors: Counter<"namespace" | "name" | "source">;

  constructor(registry: Registry) {
    const registers = [registry];
    const g = (name: string, help: string) =>
      new Gauge({ name: `deepseek_autoscaler_${name}`, help, labelNames: L, registers });
    this.queueDepth = g("queue_depth", "Requests waiting across the replicas read fresh");
    this.runningRequests = g("running_requests", "Requests being generated across the replicas read fresh");
    this.tokensPerSecond = g("tokens_per_second", "Generated tokens per second across the replicas read fresh");
    this.kvCacheUsage = g("kv_cache_usage", "KV-cache usage of the fullest replica, 0 to 1");
    this.replicasStale = g("replicas_stale", "Ready replicas whose metrics are missing or stale");
    this.desiredReplicas = g("desired_replicas", "Replicas the builtin autoscaler wants");
    this.loadingReplicas = g("loading_replicas", "Replicas created but not ready");
    this.waitingForGpus = g("waiting_for_gpus_replicas", "Replicas that cannot be placed for lack of GPUs");
    this.loadTimeSeconds = g("load_time_seconds", "Measured engine pod creation to Ready");
    this.scales = new Counter({
      name: "deepseek_autoscaler_scales_total",
      help: "Replica count changes the autoscaler made",
      labelNames: ["namespace", "name", "direction"],
      registers,
    });
    this.readErrors = new Counter({
      name: "deepseek_autoscaler_read_errors_total",
      help: "Failed reads of an engine's /metrics or of Prometheus",
      labelNames: ["namespace", "name", "source"],
      registers,
    });
  }

  /** A deployment that is gone or no longer Builtin leaves no series behind. */
  forget(namespace: string, name: string): void {
    for (const m of [
      this.queueDepth,
      this.runningRequests,
      this.tokensPerSecond,
      this.kvCacheUsage,
      this.replicasStale,
      this.desiredReplicas,
      this.loadingReplicas,
      this.waitingForGpus,
      this.loadTimeSeconds,
    ])
      m.remove({ namespace, name });
  }
}
