// Every object the chart renders, under the values that change what it renders, is accepted by the real
// apiserver (server-side dry run): a value the schema allows must never produce a manifest Kubernetes refuses
// at install time. The ServiceMonitor is left out: it needs the Prometheus operator's CRD.
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { HELM, REPO_ROOT, kubectl, run, useTestNamespace } from "./lib/index.ts";

const CHART = join(REPO_ROOT, "charts", "deepseek-operator");

describe("the Helm chart on a real apiserver", () => {
  const release = useTestNamespace("chart-release");
  const watched = useTestNamespace("chart-watched");

  // A function: the namespaces exist only once the tests run.
  const valueSets = (): Record<string, string[]> => ({
    defaults: [],
    "watched namespaces, one replica, no leader election": [
      "--set",
      "replicas=1",
      "--set",
      "leaderElection.enabled=false",
      "--set-json",
      `watchNamespaces=["${watched.name}"]`,
    ],
    "pinned digest, pull secrets, scheduling and no PDB": [
      "--set",
      "image.digest=sha256:" + "a".repeat(64),
      "--set-json",
      'imagePullSecrets=[{"name":"regcred"}]',
      "--set-json",
      'nodeSelector={"kubernetes.io/os":"linux"}',
      "--set-json",
      'tolerations=[{"key":"dedicated","operator":"Equal","value":"ops","effect":"NoSchedule"}]',
      "--set",
      "podDisruptionBudget.enabled=false",
      "--set",
      "serviceAccount.name=ops-operator",
      "--set",
      "finalizerPolicy.enabled=false",
    ],
  });
  const labels = [
    "defaults",
    "watched namespaces, one replica, no leader election",
    "pinned digest, pull secrets, scheduling and no PDB",
  ];

  it("renders a value set for each label", () => {
    expect(Object.keys(valueSets())).toEqual(labels);
  });

  it.each(labels)("accepts what it renders with %s", async (label) => {
    const rendered = await run(HELM, [
      "template",
      `dso-${labels.indexOf(label)}`,
      CHART,
      "--namespace",
      release.name,
      ...valueSets()[label]!,
    ]);
    expect(rendered.stderr).toBe("");
    expect(rendered.code).toBe(0);
    // Each object carries its namespace (per-namespace Roles go to the watched namespaces): no -n.
    const applied = await kubectl(["apply", "--dry-run=server", "--server-side", "-f", "-"], {
      input: rendered.stdout,
    });
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    // One line per object: nothing was skipped.
    const objects = rendered.stdout.split(/^---$/m).filter((d) => /^kind:/m.test(d)).length;
    expect(applied.stdout.trim().split("\n")).toHaveLength(objects);
  });
});
