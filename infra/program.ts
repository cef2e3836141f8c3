// The operator and one DeepSeekDeployment as Pulumi resources. Kept apart from index.ts (which reads
// the stack's config) so the tests can build it under Pulumi's mocks with chosen arguments.
import * as k8s from "@pulumi/kubernetes";
import { fileURLToPath } from "node:url";

export interface StackArgs {
  namespace: string;
  operatorReplicas: number;
  gpu: string;
  modelRevision: string;
  /** Namespace of the DeepSeekDeployment; defaults to "llm". */
  workloadNamespace?: string;
}

const CHART = fileURLToPath(new URL("../charts/deepseek-operator", import.meta.url));

export function createStack(a: StackArgs) {
  const ns = new k8s.core.v1.Namespace("operator-namespace", { metadata: { name: a.namespace } });
  const workloads = new k8s.core.v1.Namespace("workload-namespace", {
    metadata: { name: a.workloadNamespace ?? "llm" },
  });
  // helm.v4.Chart installs the chart's crds/ too, so the CRD exists before any DeepSeekDeployment.
  const chart = new k8s.helm.v4.Chart(
    "deepseek-operator",
    {
      chart: CHART,
      namespace: a.namespace,
      values: { replicas: a.operatorReplicas, leaderElection: { enabled: a.operatorReplicas > 1 } },
    },
    { dependsOn: [ns] },
  );
  const deployment = new k8s.apiextensions.CustomResource(
    "flash",
    {
      apiVersion: "serving.deepseek-operator.io/v1alpha1",
      kind: "DeepSeekDeployment",
      metadata: { name: "flash", namespace: workloads.metadata.name },
      spec: {
        model: { name: "deepseek-ai/DeepSeek-V4-Flash", revision: a.modelRevision },
        gpu: { type: a.gpu },
        context: { maxModelLen: 1048576, targetConcurrency: 8 },
        autoscaling: { mode: "Builtin", minReplicas: 1, maxReplicas: 4, targetQueueDepth: 4 },
      },
    },
    { dependsOn: [chart] },
  );
  return { ns, workloads, chart, deployment };
}
