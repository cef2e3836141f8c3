// kubectl and helm as real processes: the built kubectl (same version as the apiserver) and the
// helm binary from test/cluster/tools.sh, both against the admin kubeconfig unless told otherwise.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { HELM, KUBECTL, REPO_ROOT, adminKubeconfigPath } from "./paths.ts";
import { waitFor } from "./wait.ts";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the process's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  kubeconfig?: string;
  timeoutMs?: number;
}

export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, KUBECONFIG: opts.kubeconfig ?? adminKubeconfigPath() },
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") {
          reject(new Error(`${file} ${args.join(" ")}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
    // A command may exit without reading its input (kubectl with a bad flag, `true`); the pipe then fails
    // with EPIPE, which must not fail the caller: the exit code and stderr say what happened.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

/** `kubectl <args>`; resolves with the exit code, never throws on a non-zero exit. */
export function kubectl(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(KUBECTL, ["--kubeconfig", opts.kubeconfig ?? adminKubeconfigPath(), ...args], opts);
}

/** `kubectl <args>` that must succeed; returns stdout. */
export async function kubectlOk(args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The DeepSeekDeployment CRD as `make crds` writes it. */
export const CRD_FILE = join(REPO_ROOT, "crds", "serving.deepseek-operator.io_deepseekdeployments.yaml");

/** Applies the CRD (server-side, taking over its fields) and waits until the apiserver serves it. */
export async function installCrd(): Promise<void> {
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", CRD_FILE]);
  await waitCrdEstablished("deepseekdeployments.serving.deepseek-operator.io");
}

/**
 * Polled rather than `kubectl wait`: on a CRD created a moment ago, status.conditions is still null and
 * kubectl wait fails at once ("accessor error: <nil>") instead of waiting.
 */
export async function waitCrdEstablished(name: string): Promise<void> {
  await waitFor(
    async () =>
      (
        await kubectlOk(["get", `crd/${name}`, "-o", 'jsonpath={.status.conditions[?(@.type=="Established")].status}'])
      ).trim() === "True",
    { timeoutMs: 120_000, intervalMs: 250, what: `CRD ${name} to be Established` },
  );
}

/** `kubectl <args> -o json`, parsed. */
export async function kubectlJson<T = unknown>(args: readonly string[], opts: RunOptions = {}): Promise<T> {
  return JSON.parse(await kubectlOk([...args, "-o", "json"], opts)) as T;
}

/** `helm <args>` with the admin kubeconfig; resolves with the exit code. */
export function helm(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(HELM, ["--kubeconfig", opts.kubeconfig ?? adminKubeconfigPath(), ...args], opts);
}
