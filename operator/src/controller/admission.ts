// The finalizer, set at admission. Without it every new DeepSeekDeployment costs a second write to
// itself (the operator's finalizer patch: a full custom-resource update with its CEL rules, etcd and
// a watch event to every watcher) before anything else can happen. A MutatingAdmissionPolicy
// (admissionregistration.k8s.io/v1, Kubernetes 1.36) adds it inside the create instead. The operator
// still adds the finalizer itself when it is missing (an older cluster, a policy not installed, an
// object created before it was), so the policy saves work and never carries correctness.
// `make crds` renders this into the Helm chart (templates/admission.yaml).
import { GROUP, PLURAL } from "../api/index.ts";
import { FINALIZER } from "../render/index.ts";

/** The policy's spec: CREATE of our kind gains the finalizer (a set-list merge: nothing else moves). */
export const FINALIZER_POLICY_SPEC = {
  // A policy that cannot run must not block creating deployments: the operator adds the finalizer then.
  failurePolicy: "Ignore",
  reinvocationPolicy: "Never",
  matchConstraints: {
    resourceRules: [{ apiGroups: [GROUP], apiVersions: ["*"], operations: ["CREATE"], resources: [PLURAL] }],
  },
  mutations: [
    {
      patchType: "ApplyConfiguration",
      applyConfiguration: { expression: `Object{metadata: Object.metadata{finalizers: ["${FINALIZER}"]}}` },
    },
  ],
} as const;

/** The API version the chart checks the cluster for before it installs the policy. */
export const MUTATING_ADMISSION_POLICY_API = "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy";
