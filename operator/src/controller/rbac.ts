// Every permission the operator needs, in one place, each with the reason the code needs it. `make crds`
// renders these rules into the Helm chart (operator/src/cli/generate.ts): with `watchNamespaces` set,
// NAMESPACED_RULES go into a Role bound in each watched namespace and only CLUSTER_RULES are
// cluster-wide; with it empty (watch all), NAMESPACED_RULES go into a ClusterRole. The e2e suite runs
// the operator under exactly that RBAC. The operator never reads Secrets: the download Job's pod reads
// the token through env secretKeyRef, under the kubelet's authority, and the operator only renders it.
import { GROUP, PLURAL } from "../api/index.ts";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** A rule and why the code needs it (the reason is rendered next to the rule in the chart). */
export interface DocumentedRule {
  why: string;
  rule: PolicyRule;
}

// Informers list and watch; children are written by server-side apply, which is a patch that
// creates the object when it is missing (so: create and patch, never update).
const INFORMED = ["list", "watch"];
const APPLIED = ["create", "patch"];

/** Where the operator works: every watched namespace (or the whole cluster when it watches all). */
export const NAMESPACED_RULES: DocumentedRule[] = [
  {
    why: "informer of its own kind; the finalizer's fresh read lists by field selector; the finalizer is a JSON patch",
    rule: { apiGroups: [GROUP], resources: [PLURAL], verbs: [...INFORMED, "patch"] },
  },
  {
    why: "status is written by server-side apply",
    rule: { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["patch"] },
  },
  {
    why: "children carry ownerReferences with blockOwnerDeletion, which needs update on the owner's finalizers",
    rule: { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ["update"] },
  },
  {
    why: "the builtin autoscaler writes spec.replicas through the scale subresource (server-side apply)",
    rule: { apiGroups: [GROUP], resources: [`${PLURAL}/scale`], verbs: ["get", "patch"] },
  },
  {
    why: "the shared weights PVC: informed, applied, read fresh by the finalizer (never deleted: the garbage collector does that)",
    rule: { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: [...INFORMED, "get", ...APPLIED] },
  },
  {
    why: "the OpenAI Service: informed and applied (deleted by the garbage collector with its owner)",
    rule: { apiGroups: [""], resources: ["services"], verbs: [...INFORMED, ...APPLIED] },
  },
  {
    why: "the download Job's identity: a ServiceAccount with a Role that may get and patch only its PVC (applied; owned by the PVC)",
    rule: { apiGroups: [""], resources: ["serviceaccounts"], verbs: APPLIED },
  },
  {
    why: "granting that Role needs the operator to hold get/patch on PVCs (above) and to write Roles and RoleBindings",
    rule: { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: APPLIED },
  },
  {
    why: "engine pods of the watched namespaces: phase, readiness, crash loops, scheduling failures; the autoscaler patches controller.kubernetes.io/pod-deletion-cost before a scale-down",
    rule: { apiGroups: [""], resources: ["pods"], verbs: [...INFORMED, "patch"] },
  },
  {
    why: "hand-off mode HPA: the HorizontalPodAutoscaler is informed, applied, and deleted when the mode changes",
    rule: {
      apiGroups: ["autoscaling"],
      resources: ["horizontalpodautoscalers"],
      verbs: [...INFORMED, ...APPLIED, "delete"],
    },
  },
  {
    why: "hand-off mode KEDA: the ScaledObject is informed, applied, and deleted when the mode changes (list also probes whether KEDA is served)",
    rule: { apiGroups: ["keda.sh"], resources: ["scaledobjects"], verbs: [...INFORMED, ...APPLIED, "delete"] },
  },
  {
    why: "single-node engine workload; a stale one is deleted when the plan moves to a LeaderWorkerSet",
    rule: { apiGroups: ["apps"], resources: ["deployments"], verbs: [...INFORMED, ...APPLIED, "delete"] },
  },
  {
    why: "multi-node engine workload; a stale one is deleted when the plan moves to a Deployment (list also probes whether the API is served)",
    rule: {
      apiGroups: ["leaderworkerset.x-k8s.io"],
      resources: ["leaderworkersets"],
      verbs: [...INFORMED, ...APPLIED, "delete"],
    },
  },
  {
    why: "download and verify Jobs; a failed download Job is deleted before the retry",
    rule: { apiGroups: ["batch"], resources: ["jobs"], verbs: [...INFORMED, ...APPLIED, "delete"] },
  },
  {
    why: "the PodDisruptionBudget of the engine pods",
    rule: { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: [...INFORMED, ...APPLIED] },
  },
  {
    why: "events.k8s.io Events; a repeated Event becomes a series patched onto the first",
    rule: { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  },
];

/** Cluster-scoped reads: the only rules that stay cluster-wide when the operator watches a few namespaces. */
export const CLUSTER_RULES: DocumentedRule[] = [
  {
    why: "GPU inventory (allocatable GPUs per node) for the Pending explanation and for deciding whether a rollout may surge",
    rule: { apiGroups: [""], resources: ["nodes"], verbs: ["get", ...INFORMED] },
  },
  {
    why: "GPU inventory: a node's free GPUs depend on every pod bound to it, in any namespace (a watch of bound, unfinished pods)",
    rule: { apiGroups: [""], resources: ["pods"], verbs: INFORMED },
  },
];

/** In the operator's own namespace: the leader-election Lease (read, created once, renewed by update). */
export const LEADER_ELECTION_RULES: DocumentedRule[] = [
  {
    why: "leader election: the Lease is read, created once and renewed by update",
    rule: { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
  },
];
