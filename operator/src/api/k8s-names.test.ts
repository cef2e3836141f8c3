import { describe, expect, it } from "@jest/globals";
import { CONFIG_KEY, IMAGE_REFERENCE, QUALIFIED_NAME } from "./k8s-names.ts";
import { parseSpec } from "./index.ts";

const REV = "60d8d70770c6776ff598c94bb586a859a38244f1";
const spec = (s: Record<string, unknown>) => parseSpec({ model: { revision: REV }, ...s });

describe("Kubernetes' rules for pass-through strings", () => {
  it("reads image references as docker does: the first component is a registry only with a dot, a port or localhost", () => {
    const re = new RegExp(IMAGE_REFERENCE);
    for (const ok of ["vllm/vllm-openai:v0.11.0", "registry.example.com:5000/a/b:c", "localhost/x", "lmsysorg/sglang"])
      expect({ ok, m: re.test(ok) }).toEqual({ ok, m: true });
    for (const bad of ["VLLM/vllm", "vllm/vllm latest", "a;b", "vllm/vllm:v1|sh", "-vllm/x", "vllm/x:"])
      expect({ bad, m: re.test(bad) }).toEqual({ bad, m: false });
  });

  it("accepts Secret keys the way apimachinery's IsConfigMapKey does", () => {
    const re = new RegExp(CONFIG_KEY);
    for (const ok of ["token", ".dockerconfigjson", "a..b", "api-key_1.txt"]) expect(re.test(ok)).toBe(true);
    for (const bad of [".", "..", "..-", "..data", "a/b", "a b", ""])
      expect({ bad, m: re.test(bad) }).toEqual({ bad, m: false });
  });

  it("accepts qualified names the way apimachinery does", () => {
    const re = new RegExp(QUALIFIED_NAME);
    for (const ok of ["gpu", "nvidia.com/gpu.product", "a-b_c.d", "example.com/x"]) expect(re.test(ok)).toBe(true);
    for (const bad of ["gpu type", "example.com/", "/x", "-gpu", "a/b/c", "x".repeat(64)])
      expect(re.test(bad)).toBe(false);
  });

  it("refuses a map key or a size it cannot read instead of throwing", () => {
    expect(() => spec({ weights: { size: "lots" } })).not.toThrow();
    expect(spec({ weights: { size: "lots" } }).ok).toBe(false);
    const r = spec({ scheduling: { nodeSelector: { "gpu type": "h200" } } });
    expect(r.ok ? [] : r.errors.map((e) => e.message)).toEqual([
      expect.stringContaining("spec.scheduling.nodeSelector: every key must be a qualified name"),
    ]);
  });
});
