// DeepSeekPlatform under Pulumi's mocks: no CLI, engine or provider plugin runs. The tests check the wiring:
// what is installed where, pinned to which version, with which values, and in which order (each resource's
// dependencies as the engine would receive them). The chart's content is tested with helm (test/chart).
import { beforeAll, describe, expect, it } from "@jest/globals";
import * as pulumi from "@pulumi/pulumi";
import type { DeepSeekPlatformArgs } from "./platform.ts";

type Registered = { type: string; name: string; inputs: Record<string, any>; urn: string; dependencies: string[] };
const registered: Registered[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
      call: (args) => args.inputs,
    },
    "deepseek-operator-infra",
    "test",
  );
  // The mocks' newResource sees no dependencies; the request to the monitor carries them (explicit dependsOn
  // plus what the inputs depend on), so the test reads them there.
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: (err: unknown, res: any) => void) =>
    register(req, (err: unknown, res: any) => {
      if (res) {
        registered.push({
          type: req.getType(),
          name: req.getName(),
          inputs: pulumi.runtime.deserializeProperties(req.getObject()),
          urn: res.getUrn(),
          dependencies: req.getDependenciesList(),
        });
      }
      callback(err, res);
    });
});

const SPEC = {
  model: { name: "deepseek-ai/DeepSeek-V4-Flash", revision: "a".repeat(40) },
  gpu: { type: "H200" },
  autoscaling: {
    mode: "KEDA",
    minReplicas: 1,
    maxReplicas: 4,
    targetQueueDepth: 4,
    metrics: { prometheus: { url: "http://kube-prometheus-stack-prometheus.monitoring:9090" } },
  },
};

/** Builds a platform and waits until every resource, down to the DeepSeekDeployments, is registered. */
async function build(args: DeepSeekPlatformArgs) {
  registered.length = 0;
  const { DeepSeekPlatform } = await import("./platform.ts");
  const p = new DeepSeekPlatform("p", args);
  const urns = [p.urn, p.operator.urn, p.crd.urn, ...p.deployments.map((d) => d.urn)];
  await new Promise<void>((resolve) => pulumi.all(urns).apply(() => resolve()));
  const byName = (name: string) => {
    const r = registered.find((x) => x.name === name);
    if (!r) throw new Error(`no resource ${name} among ${registered.map((x) => x.name).join(", ")}`);
    return r;
  };
  return { p, byName };
}

describe("DeepSeekPlatform with everything on", () => {
  const args: DeepSeekPlatformArgs = {
    namespace: "ops",
    operatorReplicas: 2,
    image: { repository: "registry.example/dso", digest: `sha256:${"c".repeat(64)}` },
    gpuOperator: { enabled: true, driver: false },
    leaderWorkerSet: { enabled: true },
    keda: { enabled: true },
    kubePrometheusStack: { enabled: true },
    deployments: [{ name: "flash", namespace: "llm", spec: SPEC }],
  };

  it("installs each add-on as a pinned Helm release in its own namespace", async () => {
    const { byName } = await build(args);
    const releases = registered.filter((r) => r.type === "kubernetes:helm.sh/v3:Release");
    expect(Object.fromEntries(releases.map((r) => [r.inputs.name, [r.inputs.namespace, r.inputs.version]]))).toEqual({
      "kube-prometheus-stack": ["monitoring", "79.4.0"],
      "gpu-operator": ["gpu-operator", "v25.3.4"],
      lws: ["lws-system", "0.8.0"],
      keda: ["keda", "2.18.0"],
      "deepseek-operator": ["ops", undefined],
    });
    expect(byName("p-lws").inputs.chart).toBe("oci://registry.k8s.io/lws/charts/lws");
    expect(byName("p-keda").inputs.repositoryOpts).toEqual({ repo: "https://kedacore.github.io/charts" });
  });

  it("configures the add-ons for this operator", async () => {
    const { byName } = await build(args);
    const gpu = byName("p-gpu-operator").inputs.values;
    expect(gpu.driver).toEqual({ enabled: false });
    expect(gpu.gfd).toEqual({ enabled: true });
    expect(gpu.dcgmExporter.serviceMonitor).toEqual({ enabled: true });
    const kps = byName("p-kube-prometheus-stack").inputs.values.prometheus.prometheusSpec;
    expect(kps.serviceMonitorSelectorNilUsesHelmValues).toBe(false);
    expect(byName("p-keda").inputs.values.prometheus.operator.serviceMonitor).toEqual({ enabled: true });
  });

  it("installs the operator chart without its crds/, with the image pinned and the ServiceMonitor on", async () => {
    const { byName } = await build(args);
    const op = byName("p-deepseek-operator").inputs;
    expect(op.chart).toMatch(/charts\/deepseek-operator$/);
    expect(op.skipCrds).toBe(true);
    expect(op.values).toEqual({
      replicas: 2,
      leaderElection: { enabled: true },
      image: { repository: "registry.example/dso", digest: `sha256:${"c".repeat(64)}` },
      metrics: { serviceMonitor: { enabled: true, labels: { release: "kube-prometheus-stack" } } },
    });
    expect(byName("p-crd").type).toBe("kubernetes:yaml/v2:ConfigGroup");
    expect(byName("p-crd").inputs.files[0]).toMatch(/crds\/serving\.deepseek-operator\.io_deepseekdeployments\.yaml$/);
  });

  it("orders the installs: Prometheus first, the CRD before the operator, deployments after what they need", async () => {
    const { byName } = await build(args);
    const dependsOn = (name: string) => byName(name).dependencies;
    const urn = (name: string) => byName(name).urn;
    expect(dependsOn("p-kube-prometheus-stack")).toEqual([]);
    expect(dependsOn("p-gpu-operator")).toEqual([urn("p-kube-prometheus-stack")]);
    expect(dependsOn("p-keda")).toEqual([urn("p-kube-prometheus-stack")]);
    expect(dependsOn("p-deepseek-operator").sort()).toEqual(
      [urn("p-operator-namespace"), urn("p-crd"), urn("p-kube-prometheus-stack")].sort(),
    );
    expect(dependsOn("p-llm-flash").sort()).toEqual(
      [
        urn("p-crd"),
        urn("p-deepseek-operator"),
        urn("p-lws"),
        urn("p-keda"),
        urn("p-gpu-operator"),
        urn("p-ns-llm"),
      ].sort(),
    );
  });

  it("creates the DeepSeekDeployment from the arguments, in its namespace", async () => {
    const { byName } = await build(args);
    const dsd = byName("p-llm-flash");
    expect(dsd.type).toBe("kubernetes:serving.deepseek-operator.io/v1alpha1:DeepSeekDeployment");
    expect(dsd.inputs.metadata).toEqual({ name: "flash", namespace: "llm" });
    expect(dsd.inputs.spec).toEqual(SPEC);
  });
});

describe("DeepSeekPlatform with only the operator", () => {
  it("installs no add-on, turns the ServiceMonitor off and leader election off for one replica", async () => {
    const { byName } = await build({ namespace: "solo", operatorReplicas: 1 });
    expect(registered.filter((r) => r.type === "kubernetes:helm.sh/v3:Release").map((r) => r.inputs.name)).toEqual([
      "deepseek-operator",
    ]);
    const op = byName("p-deepseek-operator");
    expect(op.inputs.values).toEqual({
      replicas: 1,
      leaderElection: { enabled: false },
      metrics: { serviceMonitor: { enabled: false, labels: {} } },
    });
    expect(op.dependencies.sort()).toEqual([byName("p-operator-namespace").urn, byName("p-crd").urn].sort());
  });
});

describe("stack config", () => {
  const reader = (values: Record<string, unknown>) => ({
    get: (k: string) => values[k] as string | undefined,
    getNumber: (k: string) => values[k] as number | undefined,
    getBoolean: (k: string) => values[k] as boolean | undefined,
    getObject: <T>(k: string) => values[k] as T | undefined,
  });

  it("reads the add-on switches and the deployments", async () => {
    const { platformArgsFromConfig } = await import("./config.ts");
    const a = platformArgsFromConfig(
      reader({ keda: true, deployments: [{ name: "flash", namespace: "llm", spec: SPEC }] }),
    );
    expect(a).toMatchObject({ namespace: "deepseek-system", operatorReplicas: 2, keda: { enabled: true } });
    expect(a.gpuOperator).toEqual({ enabled: false, driver: true });
    expect(a.deployments).toEqual([{ name: "flash", namespace: "llm", spec: SPEC }]);
  });

  it("refuses a DeepSeekDeployment the API would refuse, naming the field", async () => {
    const { platformArgsFromConfig } = await import("./config.ts");
    const bad = { ...SPEC, gpu: { type: "T4" } };
    expect(() =>
      platformArgsFromConfig(reader({ deployments: [{ name: "flash", namespace: "llm", spec: bad }] })),
    ).toThrow(/deployments\[0\]\.spec\.gpu\.type: /);
    expect(() =>
      platformArgsFromConfig(reader({ deployments: { name: "Flash!", namespace: "llm", spec: SPEC } })),
    ).toThrow(/config deployments: .*name/s);
  });
});
