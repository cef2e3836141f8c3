// The operator installed as users install it: `helm install` of charts/deepseek-operator into the real
// control plane. Nothing here restates the chart: the release's Deployment creates the operator pods,
// and the harness's local runner (the kubelet here, with no container runtime) runs each pod's own
// container command, env and ServiceAccount token, the image's entry point mapped onto the bundle in
// dist/ (`npm run build`) on the project's Node. So the operator runs under exactly the release's RBAC
// and environment; `helm upgrade` rolls it and `helm uninstall` stops it, through the Deployment.
//
// The pods are the chart's own, scheduled onto the simulated CPU nodes; local-values.yaml only labels
// them (and the weights Job pods) for the local runner and names an image nobody pulls.
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { helm, kubectlJson, type RunResult } from "../e2e/lib/exec.ts";
import { REPO_ROOT } from "../e2e/lib/paths.ts";

export const CHART = join(REPO_ROOT, "charts", "deepseek-operator");
export const LOCAL_VALUES = join(REPO_ROOT, "test", "harness", "local-values.yaml");

export interface Release {
  name: string;
  namespace: string;
}

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
} & {
  [k: string]: any;
};

async function helmOk(args: string[]): Promise<RunResult> {
  const r = await helm(args, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`helm ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/** The `helm install` command line of a release (for the demo to print as well as run). */
export function installArgs(release: Release, watchNamespaces: string[], extra: string[] = []): string[] {
  return [
    "install",
    release.name,
    CHART,
    "--namespace",
    release.namespace,
    "--create-namespace",
    "--values",
    LOCAL_VALUES,
    "--set-json",
    `watchNamespaces=${JSON.stringify(watchNamespaces)}`,
    ...extra,
    // Until its pods are Ready: the local runner must be running.
    "--wait",
    "--timeout",
    "4m",
  ];
}

/**
 * `helm install` of the chart; resolves once the operator pods are Ready. `watchNamespaces` is the chart's
 * value: the finalizer policy is bound to those namespaces only, so deployments other tests create without
 * an operator never get a finalizer nobody removes.
 */
export async function installRelease(release: Release, watchNamespaces: string[], extra: string[] = []): Promise<void> {
  await helmOk(installArgs(release, watchNamespaces, extra));
}

/** `helm upgrade --reuse-values` with changed values; resolves once the rollout is done. */
export async function upgradeRelease(release: Release, set: string[]): Promise<void> {
  await helmOk([
    "upgrade",
    release.name,
    CHART,
    "--namespace",
    release.namespace,
    "--reuse-values",
    ...set.flatMap((s) => ["--set", s]),
    "--wait",
    "--timeout",
    "4m",
  ]);
}

export async function uninstallRelease(release: Release): Promise<RunResult> {
  return helm(["uninstall", release.name, "--namespace", release.namespace, "--wait", "--timeout", "3m"], {
    timeoutMs: 300_000,
  });
}

/** What the release installed: `helm get manifest`, parsed. */
export async function releaseManifest(release: Release): Promise<KubeObject[]> {
  const r = await helmOk(["get", "manifest", release.name, "--namespace", release.namespace]);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

export interface OperatorPod {
  name: string;
  key: string;
  ip: string;
  /** The pod's container ports by name (metrics, health), as the release set them. */
  ports: Record<string, number>;
  templateHash: string;
}

/** The release's operator pods that run (Ready, with an address), oldest first. */
export async function operatorPods(release: Release): Promise<OperatorPod[]> {
  const pods = await kubectlJson<{ items: any[] }>([
    "-n",
    release.namespace,
    "get",
    "pods",
    "-l",
    `app.kubernetes.io/name=deepseek-operator,app.kubernetes.io/instance=${release.name}`,
  ]);
  return pods.items
    .filter(
      (p) =>
        !p.metadata.deletionTimestamp &&
        p.status?.podIP &&
        p.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"),
    )
    .sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)))
    .map((p) => ({
      name: p.metadata.name as string,
      key: `${release.namespace}/${p.metadata.name as string}`,
      ip: p.status.podIP as string,
      ports: Object.fromEntries(
        (p.spec.containers[0].ports ?? []).map((x: { name: string; containerPort: number }) => [
          x.name,
          x.containerPort,
        ]),
      ),
      templateHash: p.metadata.labels?.["pod-template-hash"] as string,
    }));
}

/** An operator pod's /metrics, at its address and the chart's metrics port, as Prometheus scrapes it. */
export async function podMetrics(pod: OperatorPod): Promise<string> {
  const res = await fetch(`http://${pod.ip}:${pod.ports.metrics}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics of ${pod.key}: ${res.status}`);
  return res.text();
}

/** The leader-election Lease's holder (a pod name) in the release namespace. */
export async function leaseHolder(release: Release): Promise<string | undefined> {
  const r = await kubectlJson<{ items: { spec: { holderIdentity?: string } }[] }>([
    "-n",
    release.namespace,
    "get",
    "leases",
    "--field-selector",
    "metadata.name=deepseek-operator",
  ]).catch(() => ({ items: [] }));
  return r.items[0]?.spec.holderIdentity || undefined;
}
