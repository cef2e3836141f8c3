// KubeAI's model autoscaler (substratusai/kubeai internal/modelautoscaler/autoscaler.go and
// internal/modelscaler/scaler.go; defaults from charts/kubeai/values.yaml and docs/how-to/configure-autoscaling.md):
// every `modelAutoscaling.interval` (10 s) it adds the in-flight requests its proxy counts to a simple
// moving average over `timeWindow` (10 min), asks for ceil(average / targetRequests) (default 100) within
// min/max, scales up at once, and scales down only after
// RequiredConsecutiveScaleDowns = ceil(scaleDownDelaySeconds (30) / interval) consecutive lower answers.
// KubeAI persists the averages so a new leader resumes; the replay starts the average at the first
// reading instead of zeros for the same reason.
import type { Bounds, Controller, Observation } from "../observation.ts";

const INTERVAL = 10;
const WINDOW = 600;
export const KUBEAI_TARGET_REQUESTS = 100;
const SCALE_DOWN_DELAY = 30;

export class KubeAi implements Controller {
  readonly name = "kubeai";
  readonly periodSeconds = INTERVAL;
  #history: number[] = [];
  #consecutiveDowns = 0;
  readonly #required = Math.ceil(SCALE_DOWN_DELAY / INTERVAL);

  readonly bounds: Bounds;

  constructor(bounds: Bounds) {
    this.bounds = bounds;
  }

  decide(o: Observation): number {
    const n = Math.ceil(WINDOW / INTERVAL);
    if (this.#history.length === 0) this.#history = new Array<number>(n).fill(o.active);
    this.#history.push(o.active);
    if (this.#history.length > n) this.#history.shift();
    const avg = this.#history.reduce((a, b) => a + b, 0) / this.#history.length;
    const desired = Math.min(
      this.bounds.maxReplicas,
      Math.max(this.bounds.minReplicas, Math.ceil(avg / KUBEAI_TARGET_REQUESTS)),
    );
    if (desired < o.spec) {
      if (this.#consecutiveDowns < this.#required) {
        this.#consecutiveDowns++;
        return o.spec;
      }
      return desired;
    }
    this.#consecutiveDowns = 0;
    return desired;
  }
}
