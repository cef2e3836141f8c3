// Runs the real operator (./bin/deepseek-operator run) as a child process under the identity and
// RBAC its Helm chart installs, and reads its /metrics. Used by the e2e suite and the demo.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mintServiceAccountKubeconfig } from "../e2e/lib/credentials.ts";
import { helm, kubectl, kubectlOk } from "../e2e/lib/exec.ts";
import { REPO_ROOT } from "../e2e/lib/paths.ts";
import { LOCAL_LABEL } from "./local-runner.ts";
import { MUTATING_ADMISSION_POLICY_API } from "../../operator/src/controller/admission.ts";
import { FINALIZER } from "../../operator/src/render/index.ts";

export const RELEASE = "dso";
export const SERVICE_ACCOUNT = "dso-deepseek-operator";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Installs the chart's ServiceAccount, RBAC and finalizer policy (not its Deployment: no image runs
 * here) and mints a kubeconfig for the ServiceAccount. `watchNamespaces` are the namespaces the
 * operator will watch, as the chart's value: the policy is bound to them only, so deployments that
 * other tests create without an operator never get a finalizer nobody removes.
 */
export async function installOperatorIdentity(
  namespace: string,
  workDir: string,
  watchNamespaces: string[],
): Promise<string> {
  const chart = join(REPO_ROOT, "charts", "deepseek-operator");
  const templates = ["serviceaccount", "rbac", "admission"].flatMap((t) => ["--show-only", `templates/${t}.yaml`]);
  // `helm template` does not ask the cluster which APIs it serves; the control plane here is 1.36.
  const values = [
    "--api-versions",
    MUTATING_ADMISSION_POLICY_API,
    "--set-json",
    `watchNamespaces=${JSON.stringify(watchNamespaces)}`,
  ];
  const r = await helm(["template", RELEASE, chart, "--namespace", namespace, ...templates, ...values]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  mkdirSync(workDir, { recursive: true });
  const manifest = join(workDir, `rbac-${namespace}.yaml`);
  writeFileSync(manifest, r.stdout);
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", manifest]);
  const creds = await mintServiceAccountKubeconfig({
    namespace,
    serviceAccount: SERVICE_ACCOUNT,
    create: false,
    expirationSeconds: 24 * 3600,
  });
  const path = join(workDir, `operator-${namespace}.kubeconfig`);
  await creds.writeKubeconfig(path);
  return path;
}

/**
 * Waits until a DeepSeekDeployment can be created in `namespace` (a server-side dry run). On a fresh
 * control plane the finalizer policy's type checker learns a new CRD's schema some seconds after the CRD
 * is Established, and until then creates are refused with 503 "There can be a delay between when
 * CustomResourceDefinitions are created and when they are available". Other errors are real: thrown.
 * `withFinalizer`: also until the dry run's answer carries the finalizer the chart's policy adds.
 */
export async function waitUntilCreatable(
  namespace: string,
  opts: { timeoutMs?: number; withFinalizer?: boolean } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const probe = {
    apiVersion: "serving.deepseek-operator.io/v1alpha1",
    kind: "DeepSeekDeployment",
    metadata: { name: "admission-probe", namespace },
    spec: { model: { revision: "0".repeat(40) }, gpu: { type: "H200" } },
  };
  const file = join(tmpdir(), `dso-admission-probe-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(probe));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await kubectl(["create", "--dry-run=server", "-o", "json", "-f", file]);
    if (r.code === 0) {
      // The finalizer policy (failurePolicy Ignore) is skipped until the apiserver has loaded and compiled it.
      const finalizers = (JSON.parse(r.stdout) as { metadata: { finalizers?: string[] } }).metadata.finalizers;
      if (!opts.withFinalizer || finalizers?.includes(FINALIZER)) return;
      if (Date.now() > deadline)
        throw new Error(`the finalizer policy does not apply in ${namespace} after ${timeoutMs} ms`);
    } else if (!/There can be a delay|ServiceUnavailable|503/.test(r.stderr) || Date.now() > deadline)
      throw new Error(`a DeepSeekDeployment cannot be created in ${namespace}: ${r.stderr.trim()}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

export interface OperatorProcess {
  name: string;
  proc: ChildProcess;
  metricsPort: number;
  healthPort: number;
  logFile: string;
  metrics(): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `shipped`: run the bundle in dist/ (as the image does; `npm run build` first) instead of the sources. */
export async function startOperator(opts: {
  name: string;
  kubeconfig: string;
  leaseNamespace: string;
  workDir: string;
  leaderElect?: boolean;
  namespaces?: string[];
  extraEnv?: Record<string, string>;
  shipped?: boolean;
}): Promise<OperatorProcess> {
  const metricsPort = await freePort();
  const healthPort = await freePort();
  const logFile = join(opts.workDir, `${opts.name}.log`);
  const out = openSync(logFile, "a");
  const [command, args] = opts.shipped
    ? [process.execPath, [join(REPO_ROOT, "dist", "main.js"), "run"]]
    : [join(REPO_ROOT, "bin", "deepseek-operator"), ["run"]];
  const proc = spawn(command, args, {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      KUBECONFIG: opts.kubeconfig,
      POD_NAME: opts.name,
      DSO_LEADER_ELECT: String(opts.leaderElect ?? true),
      DSO_LEADER_ELECTION_NAMESPACE: opts.leaseNamespace,
      DSO_WATCH_NAMESPACES: (opts.namespaces ?? []).join(","),
      DSO_METRICS_PORT: String(metricsPort),
      DSO_HEALTH_PORT: String(healthPort),
      DSO_BIND_ADDRESS: "127.0.0.1",
      DSO_OPERATOR_IMAGE: "deepseek-operator:e2e",
      // The harness's local runner executes download Jobs as local processes.
      DSO_JOB_POD_LABELS: JSON.stringify({ [LOCAL_LABEL]: "true" }),
      LOG_LEVEL: "debug",
      ...opts.extraEnv,
    },
    stdio: ["ignore", out, out],
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    name: opts.name,
    proc,
    metricsPort,
    healthPort,
    logFile,
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return res.text();
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Sum of a Prometheus counter's samples whose labels match `filter`. */
export function counterSum(
  text: string,
  name: string,
  filter: (labels: Record<string, string>) => boolean = () => true,
): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([^{\s]+)(?:\{([^}]*)\})?\s+([0-9.eE+-]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries(
      (m[2] ?? "")
        .split(",")
        .filter(Boolean)
        .map((kv) => {
          const i = kv.indexOf("=");
          return [kv.slice(0, i), kv.slice(i + 1).replace(/^"|"$/g, "")];
        }),
    );
    if (filter(labels)) sum += Number(m[3]);
  }
  return sum;
}
