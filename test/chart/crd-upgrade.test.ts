// Helm installs crds/ once and never upgrades it, so the documented upgrade step is
//   helm show crds <chart> | kubectl apply --server-side --force-conflicts -f -
// This checks the first half: what `helm show crds` feeds kubectl is the current CRD, whole. (Applying it to a
// live release is the e2e suite's part.)
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { CHART, helm } from "./helm.ts";

const CRD_FILE = "serving.deepseek-operator.io_deepseekdeployments.yaml";

describe("the CRD upgrade command", () => {
  it("gets exactly the generated CRD from helm show crds", () => {
    const r = helm(["show", "crds", CHART]);
    expect(r.status).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      "CustomResourceDefinition/deepseekdeployments.serving.deepseek-operator.io",
    ]);
    const generated = readFileSync(path.resolve(CHART, "../../crds", CRD_FILE), "utf8");
    expect(docs[0]).toEqual(parseAllDocuments(generated)[0]!.toJS());
  });

  it("is the command NOTES.txt and the README give", () => {
    const notes = readFileSync(path.join(CHART, "templates/NOTES.txt"), "utf8");
    const readme = readFileSync(path.resolve(CHART, "../../README.md"), "utf8");
    expect(notes).toMatch(/helm show crds .*\\\n\s*\| kubectl apply --server-side --force-conflicts -f -/);
    expect(readme).toContain("| kubectl apply --server-side --force-conflicts -f -");
  });
});
