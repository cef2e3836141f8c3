import { z } from "zod";
import { withRules } from "../rules.ts";

const PromQuery = (what: string) =>
  z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe(
      `PromQL giving ${what} for the whole deployment; $namespace and $name are replaced by the deployment's. Default: the engine metric summed over pods named after the deployment.`,
    );

export const PrometheusSource = z
  .object({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, { message: "spec.autoscaling.metrics.prometheus.url must be an http(s) URL" })
      .max(2048)
      .describe("Base URL of the Prometheus HTTP API, e.g. http://prometheus.monitoring:9090."),
    queries: z
      .object({
        queueDepth: PromQuery("the waiting requests"),
        runningRequests: PromQuery("the running requests"),
        tokensPerSecond: PromQuery("the generated tokens per second"),
        kvCacheUsage: PromQuery("the mean KV-cache usage (0 to 1)"),
      })
      .optional()
      .describe("PromQL per signal; unset ones use the defaults for the engine."),
  })
  .describe(
    "Read the signals from a Prometheus server that already scrapes the engines (Builtin) and point KEDA's trigger at it.",
  );

export const MetricsSource = z
  .object({
    scrapeIntervalSeconds: z
      .int()
      .min(1)
      .max(300)
      .default(15)
      .describe("How often the engines (or Prometheus) are read and the replica count reconsidered."),
    staleAfterSeconds: z
      .int()
      .min(1)
      .max(3600)
      .default(60)
      .describe(
        "A replica whose last good reading is older than this is stale: counted as load unknown, never as idle, and it blocks scale-down.",
      ),
    prometheus: PrometheusSource.optional(),
  })
  .describe("Where the autoscaler reads the engines' load: each ready engine pod's /metrics, or Prometheus.");

export const AUTOSCALING_DEFAULTS = {
  mode: "None",
  minReplicas: 1,
  maxReplicas: 1,
  targetQueueDepth: 4,
  targetKvCacheUsage: 0.9,
  tolerance: 0.1,
  scaleUpStabilizationSeconds: 60,
  scaleDownStabilizationSeconds: 1800,
  maxScaleUpStep: 4,
  maxScaleDownStep: 1,
  drainGracePeriodSeconds: 900,
  metrics: { scrapeIntervalSeconds: 15, staleAfterSeconds: 60 },
} as const;

export const AutoscalingSpec = withRules(
  z
    .object({
      mode: z
        .enum(["None", "Builtin", "HPA", "KEDA"])
        .default("None")
        .describe(
          "None: spec.replicas is set by hand or kubectl scale. Builtin: the operator scales on queue depth and " +
            "tokens/s read from the engines. HPA or KEDA: the operator renders a HorizontalPodAutoscaler or " +
            "ScaledObject targeting this resource's scale subresource and its own loop stays off.",
        ),
      minReplicas: z
        .int()
        .min(0)
        .max(1000)
        .default(1)
        .describe(
          "Fewest replicas the autoscaler keeps. 0 only with KEDA (something must see requests while none runs).",
        ),
      maxReplicas: z.int().min(1).max(1000).default(1).describe("Most replicas the autoscaler may run."),
      targetQueueDepth: z
        .number()
        .positive({ message: "spec.autoscaling.targetQueueDepth must be greater than 0" })
        .max(100000)
        .default(4)
        .describe(
          "Waiting requests per replica (vllm:num_requests_waiting, sglang:num_queue_reqs) above which it scales up.",
        ),
      targetTokensPerSecond: z
        .number()
        .positive({ message: "spec.autoscaling.targetTokensPerSecond must be greater than 0" })
        .max(1e9)
        .optional()
        .describe(
          "Generated tokens per second per replica (rate of vllm:generation_tokens_total) above which it scales up; the larger need of queue and throughput wins.",
        ),
      targetKvCacheUsage: z
        .number()
        .gt(0)
        .max(1)
        .default(0.9)
        .describe(
          "KV-cache usage (0 to 1) of the replicas above which the autoscaler never scales down: a guard, not a target.",
        ),
      tolerance: z
        .number()
        .min(0)
        .lt(1)
        .default(0.1)
        .describe("Relative change of the load against its target that is ignored (HPA's tolerance), 0.1 = 10%."),
      scaleUpStabilizationSeconds: z
        .int()
        .min(0)
        .max(3600)
        .default(60)
        .describe(
          "Scale up only to the lowest recommendation of this many recent seconds (HPA's meaning), so one burst does not add a replica; replicas still loading count as capacity that is coming.",
        ),
      scaleDownStabilizationSeconds: z
        .int()
        .min(0)
        .max(86400)
        .default(1800)
        .describe(
          "Scale down only to the highest recommendation of this many recent seconds (HPA's meaning); the autoscaler also waits longer than the measured load time of a replica, since a new one takes many minutes to load.",
        ),
      maxScaleUpStep: z.int().min(1).max(1000).default(4).describe("Most replicas added in one scaling step."),
      maxScaleDownStep: z.int().min(1).max(1000).default(1).describe("Most replicas removed in one scaling step."),
      drainGracePeriodSeconds: z
        .int()
        .min(0)
        .max(86400)
        .default(900)
        .describe(
          "How long a removed engine pod may drain: it stops taking requests and the ones in flight finish (the pods' terminationGracePeriodSeconds).",
        ),
      metrics: MetricsSource.default({ scrapeIntervalSeconds: 15, staleAfterSeconds: 60 }),
    })
    .describe("How the number of replicas follows load."),
  [
    {
      cel: "self.minReplicas <= self.maxReplicas",
      message: "spec.autoscaling.minReplicas must not exceed spec.autoscaling.maxReplicas",
      fieldPath: ".minReplicas",
      check: (a) => a.minReplicas <= a.maxReplicas,
    },
    {
      cel: "!(self.mode in ['Builtin', 'HPA']) || self.minReplicas >= 1",
      message:
        "spec.autoscaling.minReplicas 0 needs something that sees requests while no replica runs: use mode KEDA (its activation), or keep minReplicas at least 1 with Builtin and HPA",
      fieldPath: ".minReplicas",
      check: (a) => !(a.mode === "Builtin" || a.mode === "HPA") || a.minReplicas >= 1,
    },
    {
      cel: "self.mode != 'KEDA' || has(self.metrics.prometheus)",
      message: "spec.autoscaling.metrics.prometheus.url is required with mode KEDA (its trigger queries Prometheus)",
      fieldPath: ".metrics",
      check: (a) => a.mode !== "KEDA" || a.metrics.prometheus !== undefined,
    },
  ],
);
