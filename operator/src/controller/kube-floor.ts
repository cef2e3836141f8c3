// The Kubernetes version the operator needs: each API or feature the code relies on, with the release
// in which it became generally available. The chart's `kubeVersion` must be at least the latest of the
// required ones (kube-floor.test.ts reads charts/deepseek-operator/Chart.yaml); an optional feature is
// one the chart installs only where the cluster serves it and the operator does without.
export interface KubeFeature {
  feature: string;
  /** Minor release (1.x) in which the feature went GA. */
  ga: number;
  required: boolean;
  /** What in the operator uses it. */
  usedBy: string;
}

export const KUBE_FEATURES: readonly KubeFeature[] = [
  {
    feature: "CRD selectableFields (field selectors on custom resources, KEP-4358)",
    ga: 32,
    required: true,
    usedBy:
      "the finalizer's fresh read of the deployments sharing a weights PVC (a field selector on spec.model.name and spec.model.revision); older apiservers refuse the selector",
  },
  {
    feature: "Job podFailurePolicy",
    ga: 31,
    required: true,
    usedBy: "the download Job fails at once on the downloader's permanent-failure exit code",
  },
  {
    feature: "CRD validation rules (CEL, x-kubernetes-validations with fieldPath)",
    ga: 29,
    required: true,
    usedBy: "the DeepSeekDeployment's admission rules",
  },
  { feature: "policy/v1 PodDisruptionBudget", ga: 21, required: true, usedBy: "the engine pods' disruption budget" },
  { feature: "events.k8s.io/v1 Events", ga: 19, required: true, usedBy: "the operator's Events" },
  { feature: "coordination.k8s.io/v1 Lease", ga: 14, required: true, usedBy: "leader election" },
  {
    feature: "MutatingAdmissionPolicy (admissionregistration.k8s.io/v1, KEP-3962)",
    ga: 36,
    required: false,
    usedBy:
      "the finalizer set at create; the chart installs the policy only where the API is served, and the operator adds the finalizer itself elsewhere",
  },
];

/** The lowest Kubernetes minor release (1.x) that serves every required feature. */
export const KUBE_MINOR_FLOOR = Math.max(...KUBE_FEATURES.filter((f) => f.required).map((f) => f.ga));
