// Hand-off mode KEDA: a ScaledObject (keda.sh/v1alpha1) with Prometheus triggers on the same queries
// the builtin loop's Prometheus source uses, against the DeepSeekDeployment's scale subresource.
// Checked against KEDA's own CRD in an e2e test (server-side dry run with the CRD installed).
import { API_VERSION, KIND } from "../api/index.ts";
import { commonLabels } from "./names.ts";
import { hpaBehavior } from "./hpa.ts";
import { queriesFor } from "./promql.ts";
import { controllerRef, type Dsd, type KubeObject } from "./types.ts";

const KEDA_API = "keda.sh/v1alpha1";

export function renderScaledObject(dsd: Dsd): KubeObject {
  const name = dsd.metadata.name;
  const a = dsd.spec.autoscaling;
  const prom = a.metrics.prometheus;
  if (!prom) throw new Error("renderScaledObject: spec.autoscaling.metrics.prometheus is required with mode KEDA");
  const q = queriesFor(dsd.spec.engine.type, dsd.metadata.namespace, name, prom.queries);
  // Trigger metadata is a map of strings in KEDA's schema. The default metricType AverageValue divides
  // the query's total by the replicas, so the threshold is the per-replica target.
  const trigger = (metricName: string, query: string, threshold: number) => ({
    type: "prometheus",
    name: metricName,
    metadata: { serverAddress: prom.url, query, threshold: String(threshold), activationThreshold: "0" },
  });
  return {
    apiVersion: KEDA_API,
    kind: "ScaledObject",
    metadata: {
      name,
      namespace: dsd.metadata.namespace,
      labels: commonLabels(name, "autoscaler"),
      ownerReferences: [controllerRef(dsd)],
    },
    spec: {
      scaleTargetRef: { apiVersion: API_VERSION, kind: KIND, name },
      pollingInterval: a.metrics.scrapeIntervalSeconds,
      // Only used when scaling to zero: the idle time before the last replica goes.
      cooldownPeriod: a.scaleDownStabilizationSeconds,
      minReplicaCount: a.minReplicas,
      maxReplicaCount: a.maxReplicas,
      advanced: { horizontalPodAutoscalerConfig: { name, behavior: hpaBehavior(dsd) } },
      triggers: [
        trigger("queue-depth", q.queueDepth, a.targetQueueDepth),
        ...(a.targetTokensPerSecond ? [trigger("tokens-per-second", q.tokensPerSecond, a.targetTokensPerSecond)] : []),
      ],
    },
  };
}
