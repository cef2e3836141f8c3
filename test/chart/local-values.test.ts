// The values the e2e suite and `make demo` install the chart with (test/harness/local-values.yaml): the schema
// accepts them, and they change only who runs the pods, so the operator under test runs as the chart ships it.
import { describe, expect, it } from "@jest/globals";
import path from "node:path";
import { find, render } from "./helm.ts";

const LOCAL_VALUES = path.resolve(import.meta.dirname, "../harness/local-values.yaml");
const LOCAL = { "sim.deepseek-operator.io/local": "true" };

describe("the local values of the e2e suite and the demo", () => {
  const shipped = render();
  const local = render("--values", LOCAL_VALUES);
  const deployment = (objs: ReturnType<typeof render>) => find(objs, "Deployment");

  it("label the operator pods and the weights Job pods for the local runner", () => {
    expect(deployment(local).spec.template.metadata.labels).toMatchObject(LOCAL);
    const env = deployment(local).spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(JSON.parse(env.find((e) => e.name === "DSO_JOB_POD_LABELS")!.value!)).toEqual(LOCAL);
  });

  it("leave everything else as the chart ships it, but the image's name", () => {
    const strip = (objs: ReturnType<typeof render>) =>
      JSON.parse(
        JSON.stringify(objs)
          .replaceAll("deepseek-operator.local/deepseek-operator", "IMAGE")
          .replaceAll("ghcr.io/deepseek-operator/deepseek-operator", "IMAGE"),
      ) as ReturnType<typeof render>;
    const [a, b] = [strip(shipped), strip(local)];
    const d = deployment(b);
    delete d.spec.template.metadata.labels["sim.deepseek-operator.io/local"];
    const c = d.spec.template.spec.containers[0] as { env: { name: string }[] };
    c.env = c.env.filter((e) => e.name !== "DSO_JOB_POD_LABELS");
    expect(b).toEqual(a);
  });
});
