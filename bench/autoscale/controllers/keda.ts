// KEDA ScaledObject with a Prometheus trigger on vllm:num_requests_waiting, threshold 5, as vLLM's
// production-stack chart renders it (vllm-project/production-stack helm/templates/scaledobject-vllm.yaml:
// `query: vllm:num_requests_waiting{model="<name>"}`, `threshold: '5'`, metricType unset → AverageValue).
// KEDA hands the value to an HPA as an External metric; the HPA computes
// usageRatio = value / (threshold × status.replicas) and, outside the tolerance, ceil(value / threshold)
// (kubernetes replica_calculator.go GetExternalPerPodMetricReplicas). pollingInterval (30 s) and
// cooldownPeriod (300 s) only govern activation to and from zero, which minReplicaCount ≥ 1 rules out.
// The chart's query returns one series per pod, which KEDA's Prometheus scaler refuses with more than one
// ("prometheus query … returned multiple elements", keda pkg/scalers/prometheus_scaler.go); the replay
// models the working variant, sum(vllm:num_requests_waiting{…}), read from the last scrape.
import type { Bounds, Controller, Observation } from "../observation.ts";
import { HPA_SYNC_SECONDS, HPA_TOLERANCE, HpaBehavior } from "./hpa-behavior.ts";

export const KEDA_THRESHOLD = 5;

export class Keda implements Controller {
  readonly name = "keda";
  readonly periodSeconds = HPA_SYNC_SECONDS;
  readonly #hpa: HpaBehavior;

  constructor(bounds: Bounds) {
    this.#hpa = new HpaBehavior(bounds);
  }

  decide(o: Observation): number {
    const value = o.prom.waitingSum;
    const ratio = value / (KEDA_THRESHOLD * Math.max(1, o.spec));
    const metricDesired = Math.abs(1 - ratio) > HPA_TOLERANCE ? Math.ceil(value / KEDA_THRESHOLD) : o.spec;
    return this.#hpa.next(o.now, o.spec, metricDesired);
  }
}
