import { describe, expect, it } from "@jest/globals";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { parseDeepSeekDeployment, parseSpec } from "./index.ts";

const examplesDir = fileURLToPath(new URL("../../../crds/examples/", import.meta.url));
const examples = readdirSync(examplesDir).filter((f) => f.endsWith(".yaml"));
const load = (f: string) => parse(readFileSync(examplesDir + f, "utf8")) as Record<string, any>;
const REV = "60d8d70770c6776ff598c94bb586a859a38244f1";

describe("examples", () => {
  it("has valid and invalid examples", () => {
    expect(examples.filter((f) => f.startsWith("invalid-")).length).toBeGreaterThanOrEqual(12);
    expect(examples.filter((f) => !f.startsWith("invalid-")).length).toBeGreaterThanOrEqual(4);
  });

  it.each(examples.filter((f) => !f.startsWith("invalid-")))("accepts %s", (f) => {
    const r = parseDeepSeekDeployment(load(f));
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it.each(examples.filter((f) => f.startsWith("invalid-")))("refuses %s with a message naming its field", (f) => {
    const obj = load(f);
    const expected = obj.metadata.annotations["serving.deepseek-operator.io/expect-error"] as string;
    const r = parseDeepSeekDeployment(obj);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.message).join("\n")).toContain(expected);
  });
});

describe("defaults", () => {
  it("fills the spec the way the apiserver would", () => {
    const r = parseSpec({ model: { revision: REV } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.model.name).toBe("deepseek-ai/DeepSeek-V4-Flash");
    expect(r.value.model.source).toEqual({ huggingFace: { endpoint: "https://huggingface.co" } });
    expect(r.value.context).toMatchObject({ maxModelLen: 1048576, kvCacheDtype: "fp8" });
    expect(r.value.weights.reclaimPolicy).toBe("Retain");
    expect(r.value.engine.type).toBe("vllm");
    expect(r.value.rollout.strategy).toBe("Auto");
  });
});

describe("rules", () => {
  const base = { model: { revision: REV } };
  const errorsOf = (spec: unknown) => {
    const r = parseSpec(spec);
    return r.ok ? [] : r.errors.map((e) => `${e.field} :: ${e.message}`);
  };

  it("names the field of a bound violation", () => {
    expect(errorsOf({ ...base, gpu: { perNode: 0 } }).join()).toContain("spec.gpu.perNode");
  });

  it("accepts a branch revision only under AllowBranch", () => {
    expect(errorsOf({ model: { revision: "main" } }).join()).toContain("spec.model.revision");
    expect(errorsOf({ model: { revision: "main", revisionPolicy: "AllowBranch" } })).toEqual([]);
  });

  it("skips the size rule for an existing PVC and for unknown models", () => {
    expect(
      errorsOf({ model: { revision: REV, source: { pvc: { claimName: "w" } } }, weights: { size: "1Gi" } }),
    ).toEqual([]);
    expect(errorsOf({ model: { name: "acme/other", revision: REV }, weights: { size: "1Gi" } })).toEqual([]);
    expect(errorsOf({ ...base, weights: { size: "160Gi" } })).toEqual([]);
  });

  it("checks decode context parallelism against tensor parallelism", () => {
    expect(errorsOf({ ...base, parallelism: { decodeContext: 2 } }).join()).toContain("spec.parallelism.decodeContext");
    expect(errorsOf({ ...base, parallelism: { tensor: 4, decodeContext: 2 } })).toEqual([]);
  });

  it("accepts FlashMax at exactly the minimum context", () => {
    expect(errorsOf({ ...base, reasoning: { mode: "FlashMax" }, context: { maxModelLen: 393216 } })).toEqual([]);
    expect(errorsOf({ ...base, reasoning: { mode: "FlashMax" }, context: { maxModelLen: 393215 } }).join()).toContain(
      "FlashMax",
    );
  });
});
