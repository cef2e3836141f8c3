// The autoscaling policy: pure, no I/O. The autoscaler loop (on the leader) feeds it scraped signals
// and its last state, applies `desired` through the scale subresource and stores the new state.
export { decide } from "./policy.ts";
export { initialPolicyState, policyConfigFromSpec } from "./config.ts";
export type * from "./types.ts";
