import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { customResourceDefinition, openApiSchema, SELECTABLE_FIELDS } from "../api/crd.ts";
import { walk, type JsonSchema } from "../api/json-schema.ts";
import { VALUES_SCHEMA_PATH, valuesSchemaJson } from "../chart/generate-values-schema.ts";
import {
  CHART_ADMISSION_PATH,
  CHART_CRD_PATH,
  CHART_RBAC_PATH,
  chartAdmissionYaml,
  chartRbacYaml,
  CRD_PATH,
  crdYaml,
  README_PATH,
  readmeWithReference,
} from "./generate.ts";

describe("generated files", () => {
  it("crds/ is up to date with the zod schema (run `make crds`)", () => {
    expect(readFileSync(CRD_PATH, "utf8")).toBe(crdYaml());
    expect(readFileSync(CHART_CRD_PATH, "utf8")).toBe(crdYaml());
  });
  it("the chart's RBAC is up to date with operator/src/controller/rbac.ts (run `make crds`)", () => {
    expect(readFileSync(CHART_RBAC_PATH, "utf8")).toBe(chartRbacYaml());
  });
  it("the chart's finalizer policy is up to date with operator/src/controller/admission.ts (run `make crds`)", () => {
    expect(readFileSync(CHART_ADMISSION_PATH, "utf8")).toBe(chartAdmissionYaml());
  });
  it("the chart's values.schema.json is up to date with operator/src/chart/values.ts (run `make crds`)", () => {
    expect(readFileSync(VALUES_SCHEMA_PATH, "utf8")).toBe(valuesSchemaJson());
  });
  it("the README's API reference is up to date (run `make crds`)", () => {
    const readme = readFileSync(README_PATH, "utf8");
    expect(readme).toBe(readmeWithReference(readme));
  });
});

describe("selectable fields", () => {
  it("name string fields that exist in the schema, as the apiserver requires", () => {
    const version = (customResourceDefinition().spec as { versions: { selectableFields?: { jsonPath: string }[] }[] })
      .versions[0]!;
    expect(version.selectableFields?.map((f) => f.jsonPath)).toEqual([...SELECTABLE_FIELDS]);
    const byPath = new Map([...walk(openApiSchema())]);
    for (const f of SELECTABLE_FIELDS) expect(byPath.get(f.slice(1))?.type).toBe("string");
  });
});

describe("structural schema", () => {
  const nodes = [...walk(openApiSchema())];

  it("gives every field a type and a description", () => {
    const missing = nodes.filter(([, n]) => !n.type && !n["x-kubernetes-preserve-unknown-fields"]).map(([p]) => p);
    expect(missing).toEqual([]);
    const undocumented = nodes
      .filter(([p, n]) => p !== "" && p !== "metadata" && !n.description && !p.endsWith("[]"))
      .map(([p]) => p);
    expect(nodes.find(([p]) => p === "metadata")?.[1]).toEqual({ type: "object" });
    expect(undocumented).toEqual([]);
  });

  it("uses nothing the apiserver rejects", () => {
    for (const [path, n] of nodes) {
      const forbidden = [
        "$ref",
        "$schema",
        "definitions",
        "$defs",
        "oneOf",
        "anyOf",
        "allOf",
        "not",
        "uniqueItems",
      ].filter((k) => k in n);
      expect({ path, forbidden }).toEqual({ path, forbidden: [] });
      expect({ path, both: Boolean(n.properties && n.additionalProperties) }).toEqual({ path, both: false });
      if (typeof n.pattern === "string") expect(() => new RegExp(n.pattern as string)).not.toThrow();
      if (n.type === "integer") expect(["int32", "int64"]).toContain(n.format);
    }
  });

  it("bounds every string and list that a CEL rule reads", () => {
    const unbounded = nodes
      .filter(([p]) => p.startsWith("spec"))
      .filter(
        ([, n]) =>
          (n.type === "string" && n.maxLength === undefined && !n.enum && n.format !== "uri") ||
          (n.type === "array" && n.maxItems === undefined),
      )
      .map(([p]) => p);
    expect(unbounded).toEqual([]);
  });

  it("lets server-side apply track the status's single-writer structs whole, and conditions by type", () => {
    const at = (p: string) => nodes.find(([path]) => path === p)?.[1];
    for (const p of ["status.weights", "status.plan", "status.metrics"])
      expect({ p, mapType: at(p)?.["x-kubernetes-map-type"] }).toEqual({ p, mapType: "atomic" });
    expect(at("status.conditions")).toMatchObject({
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    });
    // Atomic only where one writer sends the whole: the spec is the user's, field by field.
    expect(
      nodes.filter(([p, n]) => p.startsWith("spec") && n["x-kubernetes-map-type"] === "atomic").map(([p]) => p),
    ).toEqual([]);
  });

  it("has both subresources and the printer columns kubectl shows", () => {
    const version = (customResourceDefinition().spec as { versions: JsonSchema[] }).versions[0]!;
    expect(version.subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: ".spec.replicas",
        statusReplicasPath: ".status.replicas",
        labelSelectorPath: ".status.selector",
      },
    });
    const columns = (version.additionalPrinterColumns as { name: string; jsonPath: string }[]).map((c) => c.name);
    expect(columns).toEqual(expect.arrayContaining(["Phase", "Ready", "GPUs", "Weights", "Queue", "Tokens/s", "Age"]));
    // The ETA reads as a duration (1h5m), not a bare number of seconds.
    expect(version.additionalPrinterColumns).toContainEqual(
      expect.objectContaining({ name: "ETA", type: "string", jsonPath: ".status.weights.eta" }),
    );
    expect(nodes.find(([p]) => p === "status.weights.eta")?.[1].type).toBe("string");
    // Every column's path must exist in the schema, or kubectl prints <none> forever.
    const paths = new Set(nodes.map(([p]) => `.${p}`));
    for (const c of version.additionalPrinterColumns as { jsonPath: string }[]) {
      if (!c.jsonPath.startsWith(".metadata")) expect(paths).toContain(c.jsonPath);
    }
  });

  it("puts a default on no field that the apiserver would then fail to validate", () => {
    for (const [path, n] of nodes) {
      if (n.default === undefined || n.type !== "integer") continue;
      const d = n.default as number;
      if (typeof n.minimum === "number") expect({ path, ok: d >= n.minimum }).toEqual({ path, ok: true });
      if (typeof n.maximum === "number") expect({ path, ok: d <= n.maximum }).toEqual({ path, ok: true });
    }
  });
});
