// Hand-off mode HPA: an autoscaling/v2 HorizontalPodAutoscaler against the DeepSeekDeployment's scale
// subresource, on the engines' own signals as Pods metrics. The cluster needs a custom-metrics
// adapter that serves them under these names (docs/autoscaling.md has prometheus-adapter's rules).
import { API_VERSION, KIND } from "../api/index.ts";
import { commonLabels } from "./names.ts";
import { controllerRef, type Dsd, type KubeObject } from "./types.ts";

/** Names of the Pods metrics in the custom metrics API (prometheus-adapter renames `:` to `_`). */
function hpaMetricNames(engine: "vllm" | "sglang"): { queue: string; tokens: string } {
  return engine === "sglang"
    ? { queue: "sglang_num_queue_reqs", tokens: "sglang_gen_throughput" }
    : { queue: "vllm_num_requests_waiting", tokens: "vllm_generation_tokens_per_second" };
}

/** A resource.Quantity for a per-pod target: whole numbers as they are, fractions in milli-units. */
function quantity(v: number): string {
  return Number.isInteger(v) ? String(v) : `${Math.max(1, Math.round(v * 1000))}m`;
}

/** HPA behavior with the spec's windows and step limits (HPA's own meaning of both). */
export function hpaBehavior(dsd: Dsd) {
  const a = dsd.spec.autoscaling;
  return {
    scaleUp: {
      stabilizationWindowSeconds: a.scaleUpStabilizationSeconds,
      selectPolicy: "Max",
      policies: [{ type: "Pods", value: a.maxScaleUpStep, periodSeconds: 60 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: a.scaleDownStabilizationSeconds,
      selectPolicy: "Max",
      policies: [{ type: "Pods", value: a.maxScaleDownStep, periodSeconds: 60 }],
    },
  };
}

export function renderHpa(dsd: Dsd): KubeObject {
  const name = dsd.metadata.name;
  const a = dsd.spec.autoscaling;
  const names = hpaMetricNames(dsd.spec.engine.type);
  const pods = (metric: string, target: number) => ({
    type: "Pods",
    pods: { metric: { name: metric }, target: { type: "AverageValue", averageValue: quantity(target) } },
  });
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: {
      name,
      namespace: dsd.metadata.namespace,
      labels: commonLabels(name, "autoscaler"),
      ownerReferences: [controllerRef(dsd)],
    },
    spec: {
      scaleTargetRef: { apiVersion: API_VERSION, kind: KIND, name },
      minReplicas: Math.max(1, a.minReplicas),
      maxReplicas: a.maxReplicas,
      metrics: [
        pods(names.queue, a.targetQueueDepth),
        ...(a.targetTokensPerSecond ? [pods(names.tokens, a.targetTokensPerSecond)] : []),
      ],
      behavior: hpaBehavior(dsd),
    },
  };
}
