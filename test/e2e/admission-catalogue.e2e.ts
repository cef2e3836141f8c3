// The catalogue of invalid DeepSeekDeployments (admission-catalogue.cases.ts), each refused by the real
// apiserver (server-side dry run, strict field validation) with the field named, and refused by the
// operator's zod schema too, so that admission and the operator agree. What is accepted on purpose is
// shown harmless in the same run.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "@jest/globals";
import { parseDeepSeekDeployment } from "../../operator/src/api/index.ts";
import { BASE, CASES, type AdmissionCase } from "./admission-catalogue.cases.ts";
import { installCrd, kubectl, useTestNamespace } from "./lib/index.ts";

function merge(base: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  if (!base || typeof base !== "object" || Array.isArray(base)) return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
  return out;
}

function manifest(c: AdmissionCase, ns: string): Record<string, any> {
  const m = merge(BASE, c.patch) as Record<string, any>;
  m.metadata = { ...m.metadata, namespace: ns };
  return m;
}

async function dryRun(obj: unknown) {
  const file = join(tmpdir(), `dso-admission-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(obj));
  return kubectl(["create", "--dry-run=server", "--validate=strict", "-f", file]);
}

beforeAll(async () => {
  await installCrd();
});

describe("the admission catalogue", () => {
  const ns = useTestNamespace("e2e-admission");

  it("has at least 60 cases with distinct names", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it("starts from a base the apiserver and the operator accept", async () => {
    const r = await dryRun(manifest({ name: "base", patch: {}, field: "" }, ns.name));
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: "" });
    expect(parseDeepSeekDeployment(manifest({ name: "base", patch: {}, field: "" }, ns.name)).ok).toBe(true);
  });

  it.each(CASES.map((c) => [c.name, c] as const))("refuses %s, naming the field", async (_name, c) => {
    const obj = manifest(c, ns.name);
    const r = await dryRun(obj);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(c.field);
    // The operator's own validation agrees (it strips unknown fields instead of refusing them).
    if (!c.strictOnly) expect(parseDeepSeekDeployment(obj).ok).toBe(false);
  });
});

describe("accepted on purpose, and harmless", () => {
  const ns = useTestNamespace("e2e-admission-ok");

  it("accepts shell syntax in extraArgs and env values: they reach no shell and no $(VAR) expansion (render/launch.test.ts runs them)", async () => {
    const obj = manifest(
      {
        name: "hostile-args",
        patch: {
          spec: {
            engine: {
              extraArgs: ["$(id)", "`id`", "; id", "a\nb", `'"`],
              env: [{ name: "LEAK", value: "$(VLLM_API_KEY)" }],
            },
          },
        },
        field: "",
      },
      ns.name,
    );
    const r = await dryRun(obj);
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: "" });
  });

  it("accepts a token with any endpoint at admission: where a token may go is the operator's policy, checked before the Job exists (reconciler.test.ts)", async () => {
    const obj = manifest(
      {
        name: "token-elsewhere",
        patch: {
          spec: {
            model: {
              source: { huggingFace: { endpoint: "http://attacker.example", tokenSecretRef: { name: "other-team" } } },
            },
          },
        },
        field: "",
      },
      ns.name,
    );
    const r = await dryRun(obj);
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: "" });
  });
});
