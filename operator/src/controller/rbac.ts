// Every permission the operator needs, in one place. `make crds` renders these rules into the Helm
// chart's ClusterRole and Role; the e2e suite runs the operator under exactly that RBAC.
import { GROUP, PLURAL } from "../api/index.ts";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const CRUD = ["get", "list", "watch", "create", "update", "patch", "delete"];
const READ = ["get", "list", "watch"];

export const CLUSTER_RULES: PolicyRule[] = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ["get", "list", "watch", "update", "patch"] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["get", "update", "patch"] },
  // Setting ownerReferences with blockOwnerDeletion on children needs update on finalizers.
  { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ["update"] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/scale`], verbs: ["get", "update", "patch"] },
  { apiGroups: [""], resources: ["persistentvolumeclaims", "services", "serviceaccounts"], verbs: CRUD },
  // patch: the autoscaler sets controller.kubernetes.io/pod-deletion-cost on engine pods before a scale-down.
  { apiGroups: [""], resources: ["pods"], verbs: [...READ, "patch"] },
  // Hand-off modes: the HorizontalPodAutoscaler or KEDA ScaledObject the operator renders.
  { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: CRUD },
  { apiGroups: ["keda.sh"], resources: ["scaledobjects"], verbs: CRUD },
  // GPU inventory for the Pending explanation and for deciding whether a rollout may surge.
  { apiGroups: [""], resources: ["nodes"], verbs: READ },
  { apiGroups: ["apps"], resources: ["deployments"], verbs: CRUD },
  { apiGroups: ["batch"], resources: ["jobs"], verbs: CRUD },
  { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: CRUD },
  { apiGroups: ["leaderworkerset.x-k8s.io"], resources: ["leaderworkersets"], verbs: CRUD },
  // The download Job's identity: a Role that may patch only its PVC. Granting it needs these.
  { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: CRUD },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
];

/** In the operator's own namespace: the leader-election Lease. */
export const NAMESPACE_RULES: PolicyRule[] = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
  },
];
