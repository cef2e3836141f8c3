// Faults in the local control plane started by test/cluster/up.sh: restart one component with the
// command line it runs with, or freeze it for a while. Only the processes recorded in the cluster's pid
// files are signalled.
import { spawn } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { kubectl } from "../e2e/lib/exec.ts";
import { REPO_ROOT } from "../e2e/lib/paths.ts";

const CLUSTER_DIR = process.env.DSO_CLUSTER_DIR ?? join(REPO_ROOT, ".cluster");

function pidOf(component: string): number {
  const pid = Number(readFileSync(join(CLUSTER_DIR, "pids", `${component}.pid`), "utf8").trim());
  if (!pid) throw new Error(`no pid recorded for ${component}`);
  return pid;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Wait until the apiserver answers /readyz again. */
export async function waitApiserverReady(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await kubectl(["get", "--raw", "/readyz"])).code !== 0) {
    if (Date.now() > deadline) throw new Error(`kube-apiserver not ready after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/**
 * Stop a component (SIGTERM, as the kubelet stops a static pod) and start it again with the same command
 * line, logging to the same file. Resolves with the milliseconds it was down once it runs again; for the
 * apiserver, once /readyz answers.
 */
export async function restartComponent(component: string): Promise<number> {
  const pid = pidOf(component);
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  const stoppedAt = Date.now();
  process.kill(pid, "SIGTERM");
  for (let i = 0; alive(pid); i++) {
    if (i === 200) process.kill(pid, "SIGKILL");
    await sleep(50);
  }
  const log = openSync(join(CLUSTER_DIR, "logs", `${component}.log`), "a");
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", log, log] });
  child.unref();
  writeFileSync(join(CLUSTER_DIR, "pids", `${component}.pid`), `${child.pid}\n`);
  if (component === "kube-apiserver") await waitApiserverReady();
  return Date.now() - stoppedAt;
}

/** Freeze a component (SIGSTOP) for `ms`, then let it run again. */
export async function freezeComponent(component: string, ms: number): Promise<void> {
  const pid = pidOf(component);
  process.kill(pid, "SIGSTOP");
  try {
    await sleep(ms);
  } finally {
    process.kill(pid, "SIGCONT");
  }
}
