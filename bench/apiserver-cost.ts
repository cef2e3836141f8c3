// make bench-apiserver-cost: what one write of each kind the reconcile bench sends costs kube-apiserver.
// Context for reconcile_ratio (bench/reconcile.ts): the operator's run carries, beyond the floor's six child
// applies per deployment, the deployment's create (the bench's), its status and an Event; how far that alone
// puts the ratio from 1 depends on what those writes cost against a child's. Each kind is sent N times, 4 in
// flight, into a namespace no operator watches; the apiserver's and etcd's CPU-seconds over each batch are
// printed (they include the apiserver's own background work of those seconds, the same for every row).
//   PATH=$PWD/node_modules/.bin:$PATH node bench/apiserver-cost.ts   (starts the local control plane if needed)
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig, V1MicroTime } from "@kubernetes/client-node";
import { API_VERSION } from "../operator/src/api/index.ts";
import { ApplyClient } from "../operator/src/controller/runtime/apply.ts";
import { kubectlOk } from "../test/e2e/lib/exec.ts";
import { REPO_ROOT } from "../test/e2e/lib/paths.ts";
import { installOperatorIdentity, startOperator, waitUntilCreatable } from "../test/harness/operator.ts";
import { controlPlaneCpu, createNamespace } from "./lib/cluster.ts";
import { pool } from "./lib/pool.ts";
import { benchDeployment, DSD_RESOURCE as GROUP, floorChildren, writtenStatus } from "./lib/deployments.ts";

const N = Number(process.env.BENCH_N ?? 200);
const WIDTH = 4;
const WORK = join(REPO_ROOT, ".bench", "apiserver-cost");

execFileSync("bash", [join(REPO_ROOT, "test/cluster/up.sh")], { stdio: "inherit" });
const kc = new KubeConfig();
kc.loadFromFile(process.env.DSO_KUBECONFIG ?? join(REPO_ROOT, ".cluster", "kubeconfig"));
const api = kc.makeApiClient(CustomObjectsApi);
const client = new ApplyClient(kc);
await kubectlOk([
  "apply",
  "--server-side",
  "--force-conflicts",
  "-f",
  join(REPO_ROOT, "crds/serving.deepseek-operator.io_deepseekdeployments.yaml"),
]);

const manifest = (ns: string, i: number) => benchDeployment(ns, `cost-${i}`, i, "c");

async function measure(label: string, fn: (i: number) => Promise<unknown>): Promise<void> {
  // Lets the previous batch's downstream work (volume provisioning, job pods) settle first.
  await new Promise((r) => setTimeout(r, 3000));
  const before = controlPlaneCpu();
  const t = performance.now();
  await pool(
    Array.from({ length: N }, (_, i) => i),
    WIDTH,
    fn,
  );
  const s = (performance.now() - t) / 1000;
  const after = controlPlaneCpu();
  const used = (k: string) => ((after[k]! - before[k]!) / N) * 1000;
  console.log(
    `${label.padEnd(46)} ${s.toFixed(2).padStart(6)} s   apiserver ` +
      `${used("kube-apiserver").toFixed(1).padStart(5)} ms   etcd ${used("etcd").toFixed(1).padStart(4)} ms   per write`,
  );
}

// A status exactly as the operator writes it for a new deployment: one operator, one deployment.
const system = await createNamespace("cost-system");
const watched = await createNamespace("cost-op");
const kubeconfig = await installOperatorIdentity(system.name, WORK, [watched.name]);
await waitUntilCreatable(watched.name);
execFileSync("npm", ["run", "-s", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
const op = await startOperator({
  name: "cost-op",
  shipped: true,
  kubeconfig,
  leaseNamespace: system.name,
  workDir: WORK,
  leaderElect: false,
  namespaces: [watched.name],
  extraEnv: { LOG_LEVEL: "warn", DSO_JOB_POD_LABELS: "" },
});
let status: Record<string, unknown>;
try {
  await api.createNamespacedCustomObject({ ...GROUP, namespace: watched.name, body: manifest(watched.name, 0) });
  status = await writtenStatus(api, watched.name, "cost-0");
} finally {
  await op.stop();
}

const ns = await createNamespace("cost");
const children = Array.from({ length: N }, (_, i) => floorChildren(manifest(ns.name, i), i)); // as the reconcile bench's floor sends them
const header = (i: number) => ({
  apiVersion: API_VERSION,
  kind: "DeepSeekDeployment",
  metadata: { name: `cost-${i}`, namespace: ns.name },
});
const events = kc.makeApiClient(EventsV1Api);
const core = kc.makeApiClient(CoreV1Api);
console.log(
  `per write, ${N} of each, ${WIDTH} in flight; the operator's status: ${JSON.stringify(status).length} bytes`,
);
try {
  await measure("create DeepSeekDeployment (the bench's)", (i) =>
    api.createNamespacedCustomObject({ ...GROUP, namespace: ns.name, body: manifest(ns.name, i) }),
  );
  await measure("apply DeepSeekDeployment status (operator's)", (i) =>
    client.applyStatus({ ...header(i), status } as never),
  );
  await measure("apply the same status again (no change)", (i) =>
    client.applyStatus({ ...header(i), status } as never),
  );
  await measure("create Event (events.k8s.io/v1)", (i) =>
    events.createNamespacedEvent({
      namespace: ns.name,
      body: {
        metadata: { name: `cost-${i}.${Date.now().toString(16)}`, namespace: ns.name },
        eventTime: new V1MicroTime(),
        reportingController: "bench",
        reportingInstance: "bench",
        action: "Reconcile",
        reason: "Bench",
        type: "Normal",
        note: "phase Pending -> Downloading",
        regarding: { apiVersion: API_VERSION, kind: "DeepSeekDeployment", name: `cost-${i}`, namespace: ns.name },
      },
    }),
  );
  for (let k = 0; k < children[0]!.length; k++)
    await measure(`apply ${children[0]![k]!.kind} (a child, the floor's)`, (i) => client.apply(children[i]![k]!));
  await measure("create ConfigMap (small, for scale)", (i) =>
    core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: `cost-${i}` }, data: { a: "1" } } }),
  );
} finally {
  for (const n of [ns, watched, system]) await n.delete();
}
