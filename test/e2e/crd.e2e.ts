// The DeepSeekDeployment CRD on a real apiserver: install, printer columns, explain, the scale
// subresource, and the validation of every example in crds/examples (the invalid ones carry the
// expected message in an annotation). Expectations are read from the CRD file, not restated here.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "@jest/globals";
import { parse } from "yaml";
import { REPO_ROOT, kubectl, kubectlJson, kubectlOk, useTestNamespace, waitCrdEstablished } from "./lib/index.ts";

// DSO_CRD_FILE checks a candidate CRD (e.g. freshly generated) before it replaces the committed one.
const CRD_FILE =
  process.env.DSO_CRD_FILE ?? join(REPO_ROOT, "crds", "serving.deepseek-operator.io_deepseekdeployments.yaml");
const EXAMPLES_DIR = join(REPO_ROOT, "crds", "examples");
const EXPECT_ERROR = "serving.deepseek-operator.io/expect-error";

interface PrinterColumn {
  name: string;
  priority?: number;
}
interface JsonSchema {
  description?: string;
  properties?: Record<string, JsonSchema>;
}
interface Crd {
  metadata: { name: string };
  spec: {
    versions: { name: string; additionalPrinterColumns?: PrinterColumn[]; schema: { openAPIV3Schema: JsonSchema } }[];
  };
}

const crd = parse(readFileSync(CRD_FILE, "utf8")) as Crd;
const version = crd.spec.versions[0]!;
const examples = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => {
    const doc = parse(readFileSync(join(EXAMPLES_DIR, f), "utf8")) as {
      metadata: { name: string; annotations?: Record<string, string> };
    };
    return {
      file: f,
      path: join(EXAMPLES_DIR, f),
      name: doc.metadata.name,
      expectError: doc.metadata.annotations?.[EXPECT_ERROR],
    };
  });
const invalid = examples.filter((e) => e.file.startsWith("invalid-"));
const valid = examples.filter((e) => !e.file.startsWith("invalid-"));

const words = (s: string) => s.replace(/\s+/g, " ").trim();

beforeAll(async () => {
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", CRD_FILE]);
  await waitCrdEstablished(crd.metadata.name);
});

describe("DeepSeekDeployment CRD", () => {
  const ns = useTestNamespace("e2e-crd");

  it("is installed, established and reachable by its short name", async () => {
    const got = await kubectlJson<{ status: { conditions: { type: string; status: string }[] } }>([
      "get",
      "crd",
      crd.metadata.name,
    ]);
    expect(got.status.conditions).toContainEqual(expect.objectContaining({ type: "Established", status: "True" }));
    expect(await kubectlOk(["api-resources", "--api-group=serving.deepseek-operator.io"])).toMatch(
      /deepseekdeployments\s+dsd\s/,
    );
  });

  it("has valid and invalid examples to check", () => {
    expect(valid.length).toBeGreaterThan(0);
    expect(invalid.length).toBeGreaterThan(0);
    for (const e of invalid)
      expect({ file: e.file, expectError: typeof e.expectError }).toEqual({ file: e.file, expectError: "string" });
  });

  it("kubectl get dsd prints the printer columns (wide adds the priority-1 ones)", async () => {
    const first = valid[0]!;
    await kubectlOk(["apply", "-n", ns.name, "-f", first.path]);
    const columns = version.additionalPrinterColumns ?? [];
    expect(columns.length).toBeGreaterThan(0);
    const header = (out: string) => words(out.split("\n")[0] ?? "");
    const normal = header(await kubectlOk(["get", "dsd", "-n", ns.name]));
    const wide = header(await kubectlOk(["get", "dsd", "-n", ns.name, "-o", "wide"]));
    expect(normal.startsWith("NAME ")).toBe(true);
    for (const c of columns) {
      const title = c.name.toUpperCase();
      expect(wide).toContain(title);
      if (!c.priority) expect(normal).toContain(title);
      else expect(normal.split(" ")).not.toContain(title);
    }
    expect(await kubectlOk(["get", "dsd", "-n", ns.name])).toContain(first.name);
  });

  it("kubectl explain dsd.spec shows the field descriptions", async () => {
    const spec = version.schema.openAPIV3Schema.properties?.spec;
    const fields = Object.entries(spec?.properties ?? {});
    expect(fields.length).toBeGreaterThan(0);
    const out = words(await kubectlOk(["explain", "dsd.spec"]));
    for (const [name, schema] of fields) {
      expect(out).toContain(name);
      // kubectl wraps long descriptions, so compare on collapsed whitespace and the opening words.
      const opening = words(schema.description ?? "")
        .split(" ")
        .slice(0, 6)
        .join(" ");
      expect({ field: name, found: out.includes(opening) }).toEqual({ field: name, found: true });
    }
  });

  it("kubectl scale changes .spec.replicas through the scale subresource", async () => {
    const first = valid[0]!;
    await kubectlOk(["apply", "-n", ns.name, "-f", first.path]);
    await kubectlOk(["scale", `dsd/${first.name}`, "-n", ns.name, "--replicas=3"]);
    const got = await kubectlJson<{ spec: { replicas: number } }>(["get", `dsd/${first.name}`, "-n", ns.name]);
    expect(got.spec.replicas).toBe(3);
    const scale = JSON.parse(
      await kubectlOk([
        "get",
        "--raw",
        `/apis/serving.deepseek-operator.io/${version.name}/namespaces/${ns.name}/deepseekdeployments/${first.name}/scale`,
      ]),
    ) as { kind: string; spec: { replicas: number } };
    expect(scale.kind).toBe("Scale");
    expect(scale.spec.replicas).toBe(3);
  });

  it.each(valid.map((e) => [e.file, e] as const))("accepts %s (server dry-run)", async (_file, e) => {
    const r = await kubectl(["apply", "--dry-run=server", "-n", ns.name, "-f", e.path]);
    expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 0, stderr: "" });
  });

  it.each(invalid.map((e) => [e.file, e] as const))("refuses %s with a message naming its field", async (_file, e) => {
    const r = await kubectl(["apply", "--dry-run=server", "-n", ns.name, "-f", e.path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(e.expectError!);
  });
});
