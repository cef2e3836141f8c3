// status of a DeepSeekDeployment: written only by the operator, through the status subresource.
// The weights, plan and metrics structs are atomic for server-side apply: one writer always sends each
// whole, so the apiserver tracks one field instead of every leaf: status applies are the operator's most
// expensive writes (`make bench-apiserver-cost`, figures in docs/controller-runtime.md).
import { z } from "zod";

export const PHASES = ["Pending", "Downloading", "Loading", "Serving", "Degraded", "Failed"] as const;
export type Phase = (typeof PHASES)[number];

const int64 = (d: string) => z.int().min(0).describe(d).meta({ format: "int64" });
const count = (d: string) => z.int().min(0).max(2147483647).describe(d);

export const Condition = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
      )
      .describe("Condition type, e.g. Ready, WeightsReady, PlanValid, Progressing, Degraded."),
    status: z.enum(["True", "False", "Unknown"]).describe("True, False or Unknown."),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe("metadata.generation the condition was computed from.")
      .meta({ format: "int64" }),
    lastTransitionTime: z.string().describe("When status last changed.").meta({ format: "date-time" }),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe("UpperCamelCase reason for the last transition."),
    message: z.string().max(32768).describe("Human-readable detail."),
  })
  .describe("A standard metav1.Condition.");
export type Condition = z.output<typeof Condition>;

export const WeightsStatus = z
  .object({
    pvcName: z.string().max(253).optional().describe("The shared PVC holding the weights."),
    phase: z
      .enum(["Pending", "Listing", "Downloading", "Verifying", "Complete", "Failed"])
      .optional()
      .describe("Stage of the weights pull."),
    progress: z.string().max(16).optional().describe("Percent of bytes present and verified, e.g. 42%."),
    bytesDone: int64("Bytes downloaded and verified so far.").optional(),
    bytesTotal: int64("Bytes of the whole model.").optional(),
    filesDone: count("Files complete and verified.").optional(),
    filesTotal: count("Files in the model revision.").optional(),
    bytesPerSecond: int64("Current download rate.").optional(),
    etaSeconds: int64("Estimated seconds until the download completes.").optional(),
    eta: z.string().max(16).optional().describe("etaSeconds as a duration for people, e.g. 12m or 1h5m."),
    verified: z.boolean().optional().describe("Every file's sha256 matched and the completion marker is written."),
    reason: z
      .string()
      .max(1024)
      .optional()
      .describe(
        "Why the last attempt failed (Unauthorized, NotFound, DiskFull, Stalled, ChecksumMismatch, Timeout, NetworkError).",
      ),
    message: z.string().max(4096).optional().describe("Detail of the last failure."),
    attempts: count("Download attempts so far.").optional(),
    nextRetryTime: z
      .string()
      .optional()
      .describe("When the next attempt starts after a failure.")
      .meta({ format: "date-time" }),
    updatedAt: z.string().optional().describe("When the downloader last reported.").meta({ format: "date-time" }),
  })
  .describe("Progress of the weights pull, shared by every DeepSeekDeployment of the same model and revision.")
  .meta({ "x-kubernetes-map-type": "atomic" });

export const PlanStatus = z
  .object({
    gpuType: z.string().max(32).optional().describe("GPU model planned for."),
    gpusPerReplica: count("GPUs one replica uses.").optional(),
    nodesPerReplica: count("Nodes one replica spans.").optional(),
    tensorParallel: count("Tensor-parallel size.").optional(),
    dataParallel: count("Data-parallel attention ranks.").optional(),
    expertParallel: count("Expert-parallel size (GPUs the routed experts are sharded over).").optional(),
    decodeContextParallel: count("Decode context-parallel size.").optional(),
    kvCacheDtype: z.string().max(16).optional().describe("KV-cache data type."),
    kvCacheBytesPerToken: count("KV-cache bytes one token costs across the model's layers.").optional(),
    kvBudgetBytesPerGpu: int64("GPU memory left for the KV cache on each GPU.").optional(),
    weightsBytesPerGpu: int64("Weight bytes resident on each GPU.").optional(),
    maxConcurrentSequences: count("Sequences of maxModelLen tokens one replica holds at once.").optional(),
    kvSharding: z.string().max(1024).optional().describe("How the KV cache of a long context is laid out across GPUs."),
    workload: z.enum(["Deployment", "LeaderWorkerSet"]).optional().describe("Kind of the engine workload."),
    summary: z.string().max(64).optional().describe("Compact plan, e.g. 4xH200 DP4 EP4."),
    reason: z.string().max(4096).optional().describe("Why the planner chose this plan, with the numbers."),
  })
  .describe("The capacity plan the operator derived from the spec.")
  .meta({ "x-kubernetes-map-type": "atomic" });

export const MetricsStatus = z
  .object({
    queueDepth: z.number().min(0).optional().describe("Requests waiting across ready replicas."),
    runningRequests: z.number().min(0).optional().describe("Requests being generated across ready replicas."),
    tokensPerSecond: z.number().min(0).optional().describe("Generated tokens per second across ready replicas."),
    kvCacheUsage: z.number().min(0).max(1).optional().describe("Mean KV-cache usage of ready replicas, 0 to 1."),
    sampledAt: z.string().optional().describe("When the engines were last scraped.").meta({ format: "date-time" }),
    replicasReporting: count("Ready replicas whose metrics were read fresh.").optional(),
    replicasStale: count(
      "Ready replicas whose metrics are missing or stale: their load is unknown, never read as idle.",
    ).optional(),
    source: z.enum(["Pods", "Prometheus"]).optional().describe("Where the metrics came from."),
  })
  .describe("Live load read from the engines' Prometheus metrics.")
  .meta({ "x-kubernetes-map-type": "atomic" });

export const AutoscalingStatus = z
  .object({
    desiredReplicas: count("Replicas the builtin autoscaler wants now.").optional(),
    reason: z.string().max(1024).optional().describe("Why it wants that many."),
    loadingReplicas: count("Replicas created but not ready yet: capacity that is coming.").optional(),
    crashLoopingReplicas: count("Replicas crash-looping: not counted as capacity.").optional(),
    waitingForGpus: count(
      "Replicas that cannot be placed: their pods are unschedulable for lack of GPUs of the type.",
    ).optional(),
    freeGpus: count("Free GPUs of the type in the cluster at the last look.").optional(),
    loadTimeSeconds: count(
      "Measured time from an engine pod's creation to Ready (the slowest of the latest replicas); scale-down waits longer than this.",
    ).optional(),
    policyState: z
      .string()
      .max(65536)
      .optional()
      .describe(
        "The policy's memory as JSON (recommendations of its windows, recent needs, the last scale), written with every scale and at least every minute, so a new leader continues the same stabilization windows.",
      ),
  })
  .describe("The builtin autoscaler's view: what it wants and why, and what it remembers across a leader failover.")
  .meta({ "x-kubernetes-map-type": "atomic" });

/**
 * Status fields the builtin autoscaler writes under its own field manager; the reconciler neither
 * sends nor compares them, so neither writer overwrites the other's newer values.
 */
export const AUTOSCALER_STATUS_FIELDS = ["metrics", "autoscaling", "lastScaleTime", "lastScaleReason"] as const;

export const DeepSeekDeploymentStatus = z
  .object({
    phase: z.enum(PHASES).optional().describe("Pending, Downloading, Loading, Serving, Degraded or Failed."),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe("metadata.generation last reconciled.")
      .meta({ format: "int64" }),
    conditions: z
      .array(Condition)
      .max(16)
      .optional()
      .describe("Ready, WeightsReady, PlanValid, Progressing, Degraded and others.")
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
    replicas: count("Engine replicas that exist (the scale subresource's status replicas).").optional(),
    readyReplicas: count("Replicas ready to serve.").optional(),
    updatedReplicas: count("Replicas running the current spec.").optional(),
    desiredReplicas: count("Replicas the operator is converging to.").optional(),
    gpus: count("GPUs the desired replicas use.").optional(),
    selector: z
      .string()
      .max(1024)
      .optional()
      .describe("Label selector of the engine pods, for the scale subresource (HPA, KEDA)."),
    weights: WeightsStatus.optional(),
    plan: PlanStatus.optional(),
    metrics: MetricsStatus.optional(),
    autoscaling: AutoscalingStatus.optional(),
    lastScaleTime: z.string().optional().describe("When the replica count last changed.").meta({ format: "date-time" }),
    lastScaleReason: z.string().max(1024).optional().describe("Why the replica count last changed."),
    endpoint: z.string().max(2048).optional().describe("In-cluster URL of the OpenAI-compatible API."),
  })
  .describe("Observed state, written by the operator.");
export type DeepSeekDeploymentStatus = z.output<typeof DeepSeekDeploymentStatus>;
