// The HorizontalPodAutoscaler's recommendation handling with the default behavior, as in
// kubernetes/pkg/controller/podautoscaler/horizontal.go (normalizeDesiredReplicasWithBehaviors,
// stabilizeRecommendationWithBehaviors, calculateScaleUpLimitWithScalingRules,
// calculateScaleDownLimitWithBehaviors) and the defaults documented in
// https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#default-behavior :
// scaleUp: stabilizationWindowSeconds 0, policies 100 % or 4 pods per 15 s, selectPolicy Max;
// scaleDown: stabilizationWindowSeconds 300, policy 100 % per 15 s. Sync period 15 s
// (--horizontal-pod-autoscaler-sync-period), tolerance 0.1 (--horizontal-pod-autoscaler-tolerance).
import type { Bounds } from "../observation.ts";

export const HPA_SYNC_SECONDS = 15;
export const HPA_TOLERANCE = 0.1;
const UP_WINDOW = 0;
const DOWN_WINDOW = 300;
const PERIOD = 15;

export class HpaBehavior {
  #recs: Array<[number, number]> = [];
  #events: Array<[number, number]> = [];
  #started = false;

  readonly bounds: Bounds;

  constructor(bounds: Bounds) {
    this.bounds = bounds;
  }

  /** From the metric's desired replicas to what the HPA writes to the scale subresource. */
  next(now: number, current: number, metricDesired: number): number {
    // A new HPA starts its history with the current count (horizontal.go reconcileAutoscaler).
    if (this.#started === false) {
      this.#recs.push([now, current]);
      this.#started = true;
    }
    let up = metricDesired;
    let down = metricDesired;
    this.#recs = this.#recs.filter(([t]) => now - t <= Math.max(UP_WINDOW, DOWN_WINDOW));
    for (const [t, r] of this.#recs) {
      if (now - t <= UP_WINDOW) up = Math.min(up, r);
      if (now - t <= DOWN_WINDOW) down = Math.max(down, r);
    }
    this.#recs.push([now, metricDesired]);
    let rec = current;
    if (rec < up) rec = up;
    if (rec > down) rec = down;
    // Rate limits over the last period.
    this.#events = this.#events.filter(([t]) => now - t < PERIOD);
    const added = this.#events.reduce((a, [, d]) => a + Math.max(0, d), 0);
    const removed = this.#events.reduce((a, [, d]) => a + Math.max(0, -d), 0);
    const upStart = current - added;
    const upLimit = Math.max(upStart + 4, Math.ceil(upStart * 2));
    const downStart = current + removed;
    const downLimit = Math.floor(downStart * (1 - 1));
    let desired = rec;
    if (desired > current) desired = Math.min(desired, upLimit, this.bounds.maxReplicas);
    else if (desired < current) desired = Math.max(desired, downLimit, this.bounds.minReplicas);
    desired = Math.min(this.bounds.maxReplicas, Math.max(this.bounds.minReplicas, desired));
    if (desired !== current) this.#events.push([now, desired - current]);
    return desired;
  }
}
