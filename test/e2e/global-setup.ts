// Jest globalSetup of the e2e project: makes sure the binaries exist (building them on a fresh
// machine; a no-op when cached), starts the local control plane or reuses the running one, and
// exports its kubeconfig as DSO_KUBECONFIG. The cluster is left running after the suite so re-runs
// start in about a second; `make cluster-down` stops it.
//
// Jest loads this file through Node's own ESM loader after ts-jest has rewritten relative `.ts`
// imports to `.js`, so it imports nothing relative: the paths below mirror test/cluster/env.sh
// and test/e2e/lib/paths.ts.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

function runScript(script: string): void {
  const r = spawnSync("bash", [join(repoRoot, "test", "cluster", script)], { cwd: repoRoot, stdio: "inherit" });
  if (r.status !== 0) {
    throw new Error(
      `test/cluster/${script} failed (exit ${r.status ?? r.signal}); component logs are in .cluster/logs/`,
    );
  }
}

export default async function globalSetup(): Promise<void> {
  runScript("build-binaries.sh");
  runScript("tools.sh");
  runScript("up.sh");
  process.env.DSO_KUBECONFIG ??= join(process.env.DSO_CLUSTER_DIR ?? join(repoRoot, ".cluster"), "kubeconfig");
}
