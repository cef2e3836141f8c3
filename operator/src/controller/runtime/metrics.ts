// One prom-client Registry per operator process (never the global default registry): tests build their own
// OperatorMetrics and stay isolated, and nothing a dependency registers globally leaks onto /metrics.
// Metric names and labels match controller-runtime / client-go so existing dashboards and alerts work unchanged.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "../../util/log.ts";
import { listen, type ListenOptions, type RunningServer } from "./httpserver.ts";

/** controller-runtime's buckets for controller_runtime_reconcile_time_seconds (pkg/internal/controller/metrics). */
export const RECONCILE_TIME_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75,
  2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** controller-runtime's workqueue buckets: prometheus.ExponentialBuckets(10e-9, 10, 12), i.e. 10 ns … 1000 s. */
export const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((10e-9 * 10 ** i).toPrecision(1)));

export type ApiWriteVerb = "create" | "apply" | "update" | "patch" | "delete" | "status";

/** Live readings a workqueue exposes at scrape time (unfinished work is computed on scrape, not on a ticker). */
export interface QueueGaugeSource {
  readonly name: string;
  unfinishedWorkSeconds(): number;
  longestRunningProcessorSeconds(): number;
}

export interface OperatorMetricsOptions {
  /** Register prom-client's default process/Node.js metrics (process_cpu_seconds_total, nodejs_heap_*, …). */
  processMetrics?: boolean;
}

export class OperatorMetrics {
  readonly registry: Registry;

  // controller-runtime: pkg/internal/controller/metrics/metrics.go
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly terminalReconcileErrors: Counter<"controller">;
  readonly reconcilePanics: Counter<"controller">;
  readonly reconcileTime: Histogram<"controller">;
  readonly maxConcurrentReconciles: Gauge<"controller">;
  readonly activeWorkers: Gauge<"controller">;

  // client-go workqueue metrics as registered by controller-runtime (pkg/metrics/workqueue.go)
  readonly workqueueDepth: Gauge<"name" | "controller">;
  readonly workqueueAdds: Counter<"name" | "controller">;
  readonly workqueueRetries: Counter<"name" | "controller">;
  readonly workqueueQueueDuration: Histogram<"name" | "controller">;
  readonly workqueueWorkDuration: Histogram<"name" | "controller">;
  readonly workqueueUnfinishedWork: Gauge<"name" | "controller">;
  readonly workqueueLongestRunning: Gauge<"name" | "controller">;

  // client-go tools/leaderelection metrics
  readonly leaderMasterStatus: Gauge<"name">;

  // This operator's own
  readonly apiWrites: Counter<"verb" | "kind">;
  readonly informerRestarts: Counter<"informer" | "reason">;
  readonly informerLists: Counter<"informer">;
  readonly informerEvents: Counter<"informer" | "type">;
  readonly informerSynced: Gauge<"informer">;
  readonly eventsDropped: Counter<"reason">;

  #queues = new Set<QueueGaugeSource>();

  constructor(opts: OperatorMetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });

    this.reconcileTotal = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: "controller_runtime_terminal_reconcile_errors_total",
      help: "Total number of terminal reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.reconcilePanics = new Counter({
      name: "controller_runtime_reconcile_panics_total",
      help: "Total number of reconciliation panics per controller",
      labelNames: ["controller"],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: ["controller"],
      buckets: RECONCILE_TIME_BUCKETS,
      registers,
    });
    this.maxConcurrentReconciles = new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: ["controller"],
      registers,
    });
    this.activeWorkers = new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: ["controller"],
      registers,
    });

    const wq = ["name", "controller"] as const;
    this.workqueueDepth = new Gauge({
      name: "workqueue_depth",
      help: "Current depth of workqueue",
      labelNames: wq,
      registers,
    });
    this.workqueueAdds = new Counter({
      name: "workqueue_adds_total",
      help: "Total number of adds handled by workqueue",
      labelNames: wq,
      registers,
    });
    this.workqueueRetries = new Counter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames: wq,
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames: wq,
      buckets: WORKQUEUE_BUCKETS,
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes.",
      labelNames: wq,
      buckets: WORKQUEUE_BUCKETS,
      registers,
    });
    const queues = this.#queues;
    this.workqueueUnfinishedWork = new Gauge({
      name: "workqueue_unfinished_work_seconds",
      help:
        "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
        "Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      labelNames: wq,
      registers,
      collect() {
        for (const q of queues) this.set({ name: q.name, controller: q.name }, q.unfinishedWorkSeconds());
      },
    });
    this.workqueueLongestRunning = new Gauge({
      name: "workqueue_longest_running_processor_seconds",
      help: "How many seconds has the longest running processor for workqueue been running.",
      labelNames: wq,
      registers,
      collect() {
        for (const q of queues) this.set({ name: q.name, controller: q.name }, q.longestRunningProcessorSeconds());
      },
    });

    this.leaderMasterStatus = new Gauge({
      name: "leader_election_master_status",
      help:
        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates " +
        "master. 'name' is the string used to identify the lease. Please make sure to group by name.",
      labelNames: ["name"],
      registers,
    });

    this.apiWrites = new Counter({
      name: "deepseek_operator_api_writes_total",
      help: "Write requests sent to the Kubernetes API by the operator, by verb and kind",
      labelNames: ["verb", "kind"],
      registers,
    });
    this.informerRestarts = new Counter({
      name: "deepseek_operator_informer_restarts_total",
      help: "Informer streams torn down and restarted by the operator (reason: error, watchdog, gone)",
      labelNames: ["informer", "reason"],
      registers,
    });
    this.informerLists = new Counter({
      name: "deepseek_operator_informer_lists_total",
      help: "Full LIST requests issued by informers (initial sync and every relist)",
      labelNames: ["informer"],
      registers,
    });
    this.informerEvents = new Counter({
      name: "deepseek_operator_informer_watch_events_total",
      help: "Watch events received by informers, by event type",
      labelNames: ["informer", "type"],
      registers,
    });
    this.informerSynced = new Gauge({
      name: "deepseek_operator_informer_synced",
      help: "1 once the informer's cache has completed its first list",
      labelNames: ["informer"],
      registers,
    });
    this.eventsDropped = new Counter({
      name: "deepseek_operator_events_dropped_total",
      help: "Kubernetes Events not written (reason: overflow, error)",
      labelNames: ["reason"],
      registers,
    });
  }

  /** A queue reports its in-flight work through these gauges until it is unregistered at shutdown. */
  registerQueue(q: QueueGaugeSource): void {
    this.#queues.add(q);
  }

  unregisterQueue(q: QueueGaugeSource): void {
    this.#queues.delete(q);
  }

  /** Prometheus text exposition of everything in this registry. */
  async scrape(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Serve `GET /metrics` from this registry on its own port (controller-runtime's --metrics-bind-address). */
export async function serveMetrics(
  metrics: OperatorMetrics,
  opts: ListenOptions,
  log?: Logger,
): Promise<RunningServer> {
  return listen(
    opts,
    async (req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" || path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end("not found\n");
        return;
      }
      const body = await metrics.scrape();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(body);
    },
    (err) => log?.error({ err }, "metrics scrape failed"),
  );
}
