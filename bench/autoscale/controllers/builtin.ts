// The operator's own policy, called exactly as the autoscaler loop calls it: the engines' metrics per
// ready replica, loading replicas as such, the measured load time, the state carried between calls.
import {
  decide,
  initialPolicyState,
  type PolicyConfig,
  type PolicyState,
  type ReplicaObservation,
} from "../../../operator/src/autoscaler/policy/index.ts";
import type { Controller, Observation } from "../observation.ts";

export const BUILTIN_PERIOD_SECONDS = 15;

export class Builtin implements Controller {
  readonly name = "builtin";
  readonly periodSeconds = BUILTIN_PERIOD_SECONDS;
  #state: PolicyState = initialPolicyState();
  lastReason = "";

  readonly config: PolicyConfig;

  constructor(config: PolicyConfig) {
    this.config = config;
  }

  decide(o: Observation): number {
    const at = o.now * 1000;
    const replicas: ReplicaObservation[] = [];
    for (let i = 0; i < o.ready; i++) replicas.push({ name: `r${i}`, phase: "Ready", metrics: { at, ...o.engine } });
    for (let i = 0; i < o.loading; i++) replicas.push({ name: `l${i}`, phase: "Loading" });
    const d = decide(
      { config: this.config, currentReplicas: o.spec, replicas, loadSeconds: o.loadSeconds },
      this.#state,
      at,
    );
    // The loop stores the state in the object between calls; a JSON round trip proves it survives that.
    this.#state = JSON.parse(JSON.stringify(d.state)) as PolicyState;
    this.lastReason = d.reason;
    return d.desired;
  }
}
