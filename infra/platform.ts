// DeepSeekPlatform: the operator's Helm chart and, on request, what a GPU cluster needs around it (NVIDIA GPU
// operator, LeaderWorkerSet, KEDA, kube-prometheus-stack), plus DeepSeekDeployments, in the order they need:
//   kube-prometheus-stack → (operator, KEDA, GPU operator: their ServiceMonitors need its CRDs)
//   CRD → operator release → DeepSeekDeployments, which also wait for LWS, KEDA and the GPU operator.
// Every chart is a real Helm release (`helm list` shows it). The operator's CRD is applied by Pulumi itself,
// server-side, on every `pulumi up`: Helm installs a chart's crds/ once and never upgrades them.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { fileURLToPath } from "node:url";
import {
  GPU_OPERATOR,
  KEDA,
  KUBE_PROMETHEUS_STACK,
  LEADER_WORKER_SET,
  type PinnedChart,
  gpuOperatorValues,
  kedaValues,
  kubePrometheusStackValues,
} from "./releases.ts";

const CHART = fileURLToPath(new URL("../charts/deepseek-operator", import.meta.url));
const CRD = fileURLToPath(
  new URL("../charts/deepseek-operator/crds/serving.deepseek-operator.io_deepseekdeployments.yaml", import.meta.url),
);

export interface DeepSeekDeploymentArgs {
  name: string;
  namespace: string;
  /** A DeepSeekDeployment spec, checked against the API schema before anything is applied (see config.ts). */
  spec: Record<string, unknown>;
}

export interface DeepSeekPlatformArgs {
  /** Namespace of the operator. */
  namespace: string;
  operatorReplicas: number;
  image?: { repository?: string; tag?: string; digest?: string };
  /** Extra values for the operator chart (values.schema.json checks them at install). */
  operatorValues?: Record<string, unknown>;
  gpuOperator?: { enabled: boolean; driver?: boolean };
  leaderWorkerSet?: { enabled: boolean };
  keda?: { enabled: boolean };
  kubePrometheusStack?: { enabled: boolean };
  deployments?: DeepSeekDeploymentArgs[];
}

/** The operator chart's values from the platform's arguments. */
function operatorChartValues(a: DeepSeekPlatformArgs): Record<string, unknown> {
  const image = Object.fromEntries(Object.entries(a.image ?? {}).filter(([, v]) => v));
  const prometheus = a.kubePrometheusStack?.enabled ?? false;
  return {
    replicas: a.operatorReplicas,
    leaderElection: { enabled: a.operatorReplicas > 1 },
    ...(Object.keys(image).length > 0 ? { image } : {}),
    metrics: {
      serviceMonitor: { enabled: prometheus, labels: prometheus ? { release: KUBE_PROMETHEUS_STACK.release } : {} },
    },
    ...a.operatorValues,
  };
}

export class DeepSeekPlatform extends pulumi.ComponentResource {
  readonly crd: k8s.yaml.v2.ConfigGroup;
  readonly operator: k8s.helm.v3.Release;
  readonly gpuOperator?: k8s.helm.v3.Release;
  readonly leaderWorkerSet?: k8s.helm.v3.Release;
  readonly keda?: k8s.helm.v3.Release;
  readonly kubePrometheusStack?: k8s.helm.v3.Release;
  readonly deployments: k8s.apiextensions.CustomResource[] = [];

  constructor(name: string, a: DeepSeekPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("deepseek-operator:platform:DeepSeekPlatform", name, {}, opts);
    const child = { parent: this };
    const release = (c: PinnedChart, values: Record<string, unknown>, dependsOn: pulumi.Resource[] = []) =>
      new k8s.helm.v3.Release(
        `${name}-${c.release}`,
        {
          name: c.release,
          chart: c.chart,
          version: c.version,
          ...(c.repo ? { repositoryOpts: { repo: c.repo } } : {}),
          namespace: c.namespace,
          createNamespace: true,
          values,
          // Not atomic: a GPU driver rolled back because its DaemonSet took long on many nodes is worse than
          // a release left to finish; the long timeout is for drivers compiled on the nodes.
          timeout: 1800,
        },
        { ...child, dependsOn },
      );

    const prometheus = a.kubePrometheusStack?.enabled ?? false;
    this.kubePrometheusStack = prometheus ? release(KUBE_PROMETHEUS_STACK, kubePrometheusStackValues()) : undefined;
    const monitoring = this.kubePrometheusStack ? [this.kubePrometheusStack] : [];
    if (a.gpuOperator?.enabled) {
      const values = gpuOperatorValues({ driver: a.gpuOperator.driver ?? true, prometheus });
      this.gpuOperator = release(GPU_OPERATOR, values, monitoring);
    }
    if (a.leaderWorkerSet?.enabled) this.leaderWorkerSet = release(LEADER_WORKER_SET, {});
    if (a.keda?.enabled) this.keda = release(KEDA, kedaValues({ prometheus }), monitoring);

    const ns = new k8s.core.v1.Namespace(`${name}-operator-namespace`, { metadata: { name: a.namespace } }, child);
    // Kept on `pulumi destroy`: deleting the CRD would delete every DeepSeekDeployment in the cluster.
    this.crd = new k8s.yaml.v2.ConfigGroup(`${name}-crd`, { files: [CRD] }, { ...child, retainOnDelete: true });
    this.operator = new k8s.helm.v3.Release(
      `${name}-deepseek-operator`,
      {
        name: "deepseek-operator",
        chart: CHART,
        namespace: a.namespace,
        values: operatorChartValues(a),
        skipCrds: true,
        atomic: true,
      },
      { ...child, dependsOn: [ns, this.crd, ...monitoring] },
    );

    const ready = [this.crd, this.operator, this.leaderWorkerSet, this.keda, this.gpuOperator].filter(
      (r): r is NonNullable<typeof r> => r !== undefined,
    );
    const namespaces = new Map<string, k8s.core.v1.Namespace>();
    for (const d of a.deployments ?? []) {
      let workloads = namespaces.get(d.namespace);
      if (!workloads && d.namespace !== a.namespace) {
        workloads = new k8s.core.v1.Namespace(`${name}-ns-${d.namespace}`, { metadata: { name: d.namespace } }, child);
        namespaces.set(d.namespace, workloads);
      }
      this.deployments.push(
        new k8s.apiextensions.CustomResource(
          `${name}-${d.namespace}-${d.name}`,
          {
            apiVersion: "serving.deepseek-operator.io/v1alpha1",
            kind: "DeepSeekDeployment",
            metadata: { name: d.name, namespace: d.namespace },
            spec: d.spec,
          },
          { ...child, dependsOn: [...ready, ...(workloads ? [workloads] : [])] },
        ),
      );
    }
    this.registerOutputs({ operator: this.operator.status, deployments: this.deployments.map((d) => d.metadata.name) });
  }
}
