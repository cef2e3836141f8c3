// Helpers the control-plane benches share: namespaces, the control plane's CPU.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { kubectlOk } from "../../test/e2e/lib/exec.ts";
import { REPO_ROOT } from "../../test/e2e/lib/paths.ts";
import { cpuSeconds } from "./proc.ts";

/** A fresh namespace (not the e2e helper: that one registers jest hooks). */
export async function createNamespace(prefix: string) {
  const name = `${prefix}-${Math.random().toString(16).slice(2, 8)}`;
  await kubectlOk(["create", "namespace", name]);
  return {
    name,
    delete: () => kubectlOk(["delete", "namespace", name, "--wait=false"]),
    /** Deletes and waits until it is gone, so its garbage collection does not load the next measurement. */
    deleteAndWait: () => kubectlOk(["delete", "namespace", name, "--wait=true", "--timeout=300s"]),
  };
}

/** CPU seconds the control plane's processes have used so far (diagnostic: where a phase's work went). */
export function controlPlaneCpu(extra: Record<string, number> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  const dir = join(process.env.DSO_CLUSTER_DIR ?? join(REPO_ROOT, ".cluster"), "pids");
  const pids = Object.entries(extra).map(([k, pid]) => [k, String(pid)]);
  for (const f of readdirSync(dir)) pids.push([f.replace(/\.pid$/, ""), readFileSync(join(dir, f), "utf8").trim()]);
  for (const [name, pid] of pids) {
    try {
      out[name!] = cpuSeconds(pid!);
    } catch {
      // a process that is not running has no share to report
    }
  }
  return out;
}
