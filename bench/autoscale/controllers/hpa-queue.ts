// An autoscaling/v2 HPA on the Pods metric vllm:num_requests_waiting, target averageValue = the
// spec's targetQueueDepth (4), default behavior and tolerance. Pods metrics go through
// replica_calculator.go calcPlainMetricReplicas: the average is over pods that report; pods without
// metrics (still loading: the engine's port is closed) count as 0 when the ratio says scale up and as
// the target when it says scale down, and a result that flips direction or lands inside the tolerance
// keeps the current count. Read from the last Prometheus scrape (through an adapter).
import type { Bounds, Controller, Observation } from "../observation.ts";
import { HPA_SYNC_SECONDS, HPA_TOLERANCE, HpaBehavior } from "./hpa-behavior.ts";

export class HpaQueue implements Controller {
  readonly name = "hpa";
  readonly periodSeconds = HPA_SYNC_SECONDS;
  readonly #hpa: HpaBehavior;

  readonly target: number;

  constructor(bounds: Bounds, target: number) {
    this.target = target;
    this.#hpa = new HpaBehavior(bounds);
  }

  decide(o: Observation): number {
    return this.#hpa.next(o.now, o.spec, this.metricDesired(o));
  }

  metricDesired(o: Observation): number {
    const reporting = o.prom.pods;
    if (reporting === 0) return o.spec;
    const missing = Math.max(0, o.spec - reporting);
    const sum = o.prom.waitingSum;
    const ratio = sum / reporting / this.target;
    if (missing === 0) return Math.abs(1 - ratio) <= HPA_TOLERANCE ? o.spec : Math.ceil(ratio * reporting);
    if (Math.abs(1 - ratio) <= HPA_TOLERANCE) return o.spec;
    const assumed = ratio < 1 ? sum + this.target * missing : sum;
    const newRatio = assumed / ((reporting + missing) * this.target);
    if (Math.abs(1 - newRatio) <= HPA_TOLERANCE || ratio > 1 !== newRatio > 1) return o.spec;
    return Math.ceil(newRatio * (reporting + missing));
  }
}
