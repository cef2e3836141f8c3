// Under Pulumi's mocks no CLI, engine or provider plugin runs: the test checks the wiring (what is
// installed where, in which order, with which values). The chart's content is tested with helm.
import { beforeAll, describe, expect, it } from "@jest/globals";
import * as pulumi from "@pulumi/pulumi";

type Registered = { type: string; name: string; inputs: Record<string, any> };
const registered: Registered[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "deepseek-operator-infra",
    "test",
  );
});

const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("infra program", () => {
  it("installs the chart into its namespace with leader election for two replicas, then the deployment", async () => {
    const { createStack } = await import("./program.ts");
    const stack = createStack({ namespace: "ops", operatorReplicas: 2, gpu: "B200", modelRevision: "a".repeat(40) });
    await output(stack.deployment.urn);
    const chart = registered.find((r) => r.type === "kubernetes:helm.sh/v4:Chart")!;
    expect(chart.inputs.namespace).toBe("ops");
    expect(chart.inputs.chart).toMatch(/charts\/deepseek-operator$/);
    expect(chart.inputs.values).toEqual({ replicas: 2, leaderElection: { enabled: true } });
    const dsd = registered.find(
      (r) => r.type === "kubernetes:serving.deepseek-operator.io/v1alpha1:DeepSeekDeployment",
    )!;
    expect(dsd.inputs.spec.gpu).toEqual({ type: "B200" });
    expect(dsd.inputs.spec.model.revision).toBe("a".repeat(40));
    expect(dsd.inputs.metadata.namespace).toBe("llm");
  });

  it("turns leader election off for a single replica", async () => {
    registered.length = 0;
    const { createStack } = await import("./program.ts");
    const stack = createStack({
      namespace: "solo",
      operatorReplicas: 1,
      gpu: "H200",
      modelRevision: "b".repeat(40),
      workloadNamespace: "w",
    });
    await output(stack.chart.urn);
    const chart = registered.find((r) => r.type === "kubernetes:helm.sh/v4:Chart")!;
    expect(chart.inputs.values.leaderElection).toEqual({ enabled: false });
  });
});
