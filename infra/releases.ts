// What a GPU cluster needs around the operator, each as a pinned Helm release with values chosen for it.
// Versions are pinned so `pulumi up` on two clusters installs the same thing; raise them deliberately.
export interface PinnedChart {
  /** Helm release name. */
  release: string;
  namespace: string;
  chart: string;
  /** Chart repository; absent for an oci:// chart reference. */
  repo?: string;
  version: string;
}

/** NVIDIA GPU operator: driver, container toolkit, device plugin and the GPU feature discovery labels. */
export const GPU_OPERATOR: PinnedChart = {
  release: "gpu-operator",
  namespace: "gpu-operator",
  chart: "gpu-operator",
  repo: "https://helm.ngc.nvidia.com/nvidia",
  version: "v25.3.4",
};

/** LeaderWorkerSet: the operator renders one when a replica spans nodes (8 × H100 per replica and up). */
export const LEADER_WORKER_SET: PinnedChart = {
  release: "lws",
  namespace: "lws-system",
  chart: "oci://registry.k8s.io/lws/charts/lws",
  version: "0.8.0",
};

/** KEDA: for DeepSeekDeployments with autoscaling.mode KEDA (scaling through the scale subresource). */
export const KEDA: PinnedChart = {
  release: "keda",
  namespace: "keda",
  chart: "keda",
  repo: "https://kedacore.github.io/charts",
  version: "2.18.0",
};

/** kube-prometheus-stack: Prometheus operator, Prometheus and Grafana; scrapes the operator's ServiceMonitor. */
export const KUBE_PROMETHEUS_STACK: PinnedChart = {
  release: "kube-prometheus-stack",
  namespace: "monitoring",
  chart: "kube-prometheus-stack",
  repo: "https://prometheus-community.github.io/helm-charts",
  version: "79.4.0",
};

/**
 * GPU operator values. The operator places engine pods by the nvidia.com/gpu.product label, which GPU feature
 * discovery sets, so gfd stays on. Clouds whose node images carry the driver (GKE, some EKS AMIs) need
 * driver.enabled false. DCGM's exporter is scraped when Prometheus is there.
 */
export function gpuOperatorValues(o: { driver: boolean; prometheus: boolean }): Record<string, unknown> {
  return {
    driver: { enabled: o.driver },
    toolkit: { enabled: true },
    gfd: { enabled: true },
    nfd: { enabled: true },
    mig: { strategy: "single" },
    dcgmExporter: { serviceMonitor: { enabled: o.prometheus } },
  };
}

export function kedaValues(o: { prometheus: boolean }): Record<string, unknown> {
  return {
    prometheus: {
      operator: { enabled: true, serviceMonitor: { enabled: o.prometheus } },
      metricServer: { enabled: true, serviceMonitor: { enabled: o.prometheus } },
    },
  };
}

/**
 * Prometheus picks up every ServiceMonitor, not only its own release's: the operator's and DCGM's come from
 * other releases. Retention covers a few weeks of autoscaling history.
 */
export function kubePrometheusStackValues(): Record<string, unknown> {
  return {
    prometheus: {
      prometheusSpec: {
        serviceMonitorSelectorNilUsesHelmValues: false,
        podMonitorSelectorNilUsesHelmValues: false,
        ruleSelectorNilUsesHelmValues: false,
        retention: "15d",
      },
    },
  };
}
