import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { KUBE_FEATURES, KUBE_MINOR_FLOOR } from "./kube-floor.ts";
import { customResourceDefinition } from "../api/crd.ts";
import { MUTATING_ADMISSION_POLICY_API } from "./admission.ts";

const chartDir = fileURLToPath(new URL("../../../charts/deepseek-operator/", import.meta.url));

/** The lower bound of a semver constraint like ">=1.32.0-0" as a minor release of 1.x. */
function chartFloorMinor(constraint: string): number {
  const m = /^>=\s*1\.(\d+)(?:\.\d+)?(?:-0)?$/.exec(constraint.trim());
  if (!m) throw new Error(`Chart.yaml kubeVersion ${JSON.stringify(constraint)}: expected ">=1.N.0-0"`);
  return Number(m[1]);
}

describe("the Kubernetes version floor", () => {
  it("the chart's kubeVersion is at least the latest GA release of every required feature", () => {
    const chart = parse(readFileSync(`${chartDir}Chart.yaml`, "utf8")) as { kubeVersion: string };
    expect(chartFloorMinor(chart.kubeVersion)).toBeGreaterThanOrEqual(KUBE_MINOR_FLOOR);
    expect(KUBE_MINOR_FLOOR).toBe(32); // selectable fields; a new feature that raises it must raise the chart too
  });

  it("the table lists what the code really uses", () => {
    const version = (customResourceDefinition().spec as { versions: { selectableFields?: unknown[] }[] }).versions[0]!;
    expect(version.selectableFields?.length).toBeGreaterThan(0);
    expect(KUBE_FEATURES.find((f) => f.feature.startsWith("CRD selectableFields"))?.required).toBe(true);
  });

  it("an optional feature newer than the floor is installed only where the cluster serves it", () => {
    const admission = readFileSync(`${chartDir}templates/admission.yaml`, "utf8");
    for (const f of KUBE_FEATURES.filter((x) => !x.required && x.ga > KUBE_MINOR_FLOOR)) {
      expect(f.feature).toMatch(/MutatingAdmissionPolicy/); // the only one; a new one needs its own guard here
      expect(admission).toContain(`.Capabilities.APIVersions.Has "${MUTATING_ADMISSION_POLICY_API}"`);
    }
  });
});
