// make bench-reconcile: N DeepSeekDeployments applied at once to the real control plane; time until
// every one has its children and a written status, against a floor measured in the same run: a
// plain client creating each DeepSeekDeployment, its six children and its status write directly. Then the operator's peak RSS with 1000, the
// time from an operator restart to its first reconcile with them, and from a leader's SIGKILL to the
// new leader's first write.
// Last line: reconcile_ratio=<operator time / floor time>. Numbers and what they show: docs/controller-runtime.md
// ("Throughput and memory").
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { CustomObjectsApi, KubeConfig, Watch } from "@kubernetes/client-node";
import { ApplyClient } from "../operator/src/controller/runtime/apply.ts";
import { kubectlOk } from "../test/e2e/lib/exec.ts";
import { REPO_ROOT } from "../test/e2e/lib/paths.ts";
import { counterSum, installOperatorIdentity, startOperator, waitUntilCreatable } from "../test/harness/operator.ts";
import { controlPlaneCpu, createNamespace } from "./lib/cluster.ts";
import { pool } from "./lib/pool.ts";
import { benchDeployment, DSD_RESOURCE as GROUP, floorChildren, writtenStatus } from "./lib/deployments.ts";

// The runtime settings the Helm chart ships (values.yaml workers, nodeOptions, mallocArenaMax): the operator as it
// runs; the RSS goal is about these. The floor gets as many writes in flight as the operator has workers.
const CHART_VALUES = parse(readFileSync(join(REPO_ROOT, "charts/deepseek-operator/values.yaml"), "utf8")) as {
  nodeOptions: string;
  workers: number;
  mallocArenaMax?: string;
};
const { values } = parseArgs({
  options: {
    n: { type: "string", default: process.env.BENCH_N ?? "200" },
    rss: { type: "string", default: process.env.BENCH_RSS_N ?? "1000" },
    concurrency: { type: "string", default: String(CHART_VALUES.workers) },
  },
});
const N = Number(values.n);
const RSS_N = Number(values.rss);
const WORKERS = Number(values.concurrency);
const WORK = join(REPO_ROOT, ".bench", "reconcile");
const OPERATOR_NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? CHART_VALUES.nodeOptions;
const OPERATOR_RUNTIME_ENV: Record<string, string> = CHART_VALUES.mallocArenaMax
  ? { MALLOC_ARENA_MAX: String(CHART_VALUES.mallocArenaMax) }
  : {};
/**
 * The weights PVCs' StorageClass: the cluster's default (kwok-volume, provisioned by kwok stages) unless
 * BENCH_STORAGE_CLASS names another. BENCH_STORAGE_CLASS=bench-unprovisioned makes one that no
 * provisioner serves, to measure without the simulated cluster's volume provisioning and the download
 * pods it lets run: other controllers' work that on a real cluster runs on other machines but here
 * shares the two CPUs with the apiserver (the floor, being shorter, overlaps less of it).
 */
const STORAGE_CLASS = process.env.BENCH_STORAGE_CLASS;

execFileSync("bash", [join(REPO_ROOT, "test/cluster/up.sh")], { stdio: "inherit" });
process.env.DSO_KUBECONFIG ??= join(process.env.DSO_CLUSTER_DIR ?? join(REPO_ROOT, ".cluster"), "kubeconfig");
const kc = new KubeConfig();
kc.loadFromFile(process.env.DSO_KUBECONFIG);
const api = kc.makeApiClient(CustomObjectsApi);
await kubectlOk([
  "apply",
  "--server-side",
  "--force-conflicts",
  "-f",
  join(REPO_ROOT, "crds/serving.deepseek-operator.io_deepseekdeployments.yaml"),
]);
if (STORAGE_CLASS === "bench-unprovisioned") {
  const sc = {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: STORAGE_CLASS },
    provisioner: "bench.deepseek-operator.io/none",
    volumeBindingMode: "WaitForFirstConsumer",
  };
  mkdirSync(WORK, { recursive: true });
  writeFileSync(join(WORK, "storage-class.json"), JSON.stringify(sc));
  await kubectlOk(["apply", "--server-side", "-f", join(WORK, "storage-class.json")]);
}

function cpuSince(before: Record<string, number>, extra: Record<string, number> = {}): string {
  const now = controlPlaneCpu(extra);
  return Object.keys(now)
    .sort()
    .map((k) => `${k} ${(now[k]! - (before[k] ?? 0)).toFixed(1)}`)
    .join(", ");
}

/** apiserver_request_total by verb and resource (diagnostic: which requests a phase sent). */
async function requestCounts(): Promise<Map<string, number>> {
  const text = await kubectlOk(["get", "--raw", "/metrics"]);
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const label = (k: string) => new RegExp(`[{,]${k}="([^"]*)"`).exec(line)?.[1] ?? "";
    const key = `${label("verb")} ${label("resource")}${label("subresource") ? `/${label("subresource")}` : ""}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

function requestsSince(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
    .filter(([, n]) => n >= 20)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

function manifest(ns: string, i: number, salt: string) {
  return benchDeployment(ns, `bench-${i}`, i, salt, STORAGE_CLASS ? { storageClassName: STORAGE_CLASS } : undefined);
}

async function countAll(ns: string): Promise<number> {
  return ((await api.listNamespacedCustomObject({ ...GROUP, namespace: ns })) as { items: unknown[] }).items.length;
}

async function countReady(ns: string): Promise<number> {
  const list = (await api.listNamespacedCustomObject({ ...GROUP, namespace: ns })) as {
    items: { status?: { observedGeneration?: number } }[];
  };
  return list.items.filter((d) => d.status?.observedGeneration !== undefined).length;
}

/**
 * Resolves at the moment the last of `n` deployments in `ns` has a written status, a Job and a Service, as
 * seen on three watches opened before the first create. Watches, not polling: the observer must not load the
 * apiserver it is timing (polling with kubectl spawned two Go processes and three LISTs per round, CPU the floor
 * never paid for), and an event marks completion to the millisecond instead of to the next poll.
 */
async function completion(ns: string, n: number): Promise<{ done: Promise<number>; stop(): void }> {
  const watch = new Watch(kc);
  const ready = new Set<string>();
  const jobs = new Set<string>();
  const services = new Set<string>();
  let stopped = false;
  let resolve!: (t: number) => void;
  const done = new Promise<number>((r) => (resolve = r));
  const controllers: AbortController[] = [];
  const check = () => {
    if (ready.size >= n && jobs.size >= n && services.size >= n) resolve(performance.now());
  };
  const follow = async (
    path: string,
    track: (type: string, o: { metadata: { name: string }; status?: { observedGeneration?: number } }) => void,
  ) => {
    // Without a resourceVersion every (re)connect starts with an ADDED per existing object, so a
    // restarted stream rebuilds its set.
    const start = async (): Promise<void> => {
      controllers.push(
        await watch.watch(
          path,
          {},
          (type, o: Parameters<typeof track>[1]) => {
            track(type, o);
            check();
          },
          () => {
            if (!stopped) void start();
          },
        ),
      );
    };
    await start();
  };
  const named = (set: Set<string>) => (type: string, o: { metadata: { name: string } }) =>
    type === "DELETED" ? set.delete(o.metadata.name) : set.add(o.metadata.name);
  await Promise.all([
    follow(`/apis/${GROUP.group}/${GROUP.version}/namespaces/${ns}/${GROUP.plural}`, (type, o) => {
      if (type !== "DELETED" && o.status?.observedGeneration !== undefined) ready.add(o.metadata.name);
    }),
    follow(`/apis/batch/v1/namespaces/${ns}/jobs`, named(jobs)),
    follow(`/api/v1/namespaces/${ns}/services`, named(services)),
  ]);
  return {
    done,
    stop: () => {
      stopped = true;
      for (const c of controllers) c.abort();
    },
  };
}

// Floor: what the operator must at least do per deployment, by a plain client: create the
// DeepSeekDeployment, apply its six children (PVC, ServiceAccount, Role, RoleBinding, Job, Service, owned
// by it) and apply its status once: the status the operator wrote for a new deployment, as the operator
// applies it (a status apply is the dearest write of all: bench-apiserver-cost). Measured before and after
// the operator run (the apiserver warms up, the machine's load drifts).
async function floor(salt: string, status: Record<string, unknown>): Promise<number> {
  const ns = await createNamespace(`bench-floor-${salt}`);
  const client = new ApplyClient(kc);
  const cpu = controlPlaneCpu();
  const requests = await requestCounts();
  const t = performance.now();
  await pool(
    Array.from({ length: N }, (_, i) => i),
    WORKERS,
    async (i) => {
      const body = manifest(ns.name, i, salt);
      const created = (await api.createNamespacedCustomObject({ ...GROUP, namespace: ns.name, body })) as {
        metadata: { uid: string; generation: number };
      };
      for (const o of floorChildren(body, i, created.metadata.uid)) await client.apply(o);
      await client.applyStatus({
        apiVersion: body.apiVersion,
        kind: body.kind,
        metadata: { name: body.metadata.name, namespace: ns.name },
        status: { ...status, observedGeneration: created.metadata.generation },
      });
    },
  );
  const ms = performance.now() - t;
  floorCpu.push(cpuSince(cpu));
  floorRequests.push(requestsSince(requests, await requestCounts()));
  await ns.deleteAndWait();
  return ms;
}
const floorCpu: string[] = [];
const floorRequests: string[] = [];

// A previous run's namespaces still being garbage-collected would load the first measurement.
for (let i = 0; i < 300; i++) {
  const left = (await kubectlOk(["get", "namespaces", "-o", "name"]))
    .split("\n")
    .filter((n) => n.startsWith("namespace/bench-"));
  if (left.length === 0) break;
  if (i === 0) console.log(`waiting for ${left.length} namespaces of an earlier run to go`);
  await new Promise((r) => setTimeout(r, 2000));
}
// The operator starts first: the floor needs the status it writes for a new deployment, read from a probe
// deployment in a namespace of its own (the operator watches it too; nothing happens there during the runs).
const system = await createNamespace("bench-dso-system");
const opNs = await createNamespace("bench-dso");
const probeNs = await createNamespace("bench-probe");
const kubeconfig = await installOperatorIdentity(system.name, WORK, [opNs.name, probeNs.name]);
await waitUntilCreatable(opNs.name);
// The operator runs as it ships: compiled JavaScript from dist/ (type-stripping the sources at run time
// would add memory that the image does not pay).
execFileSync("npm", ["run", "-s", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
const startBenchOperator = (name: string, leaderElect: boolean) =>
  startOperator({
    name,
    shipped: true,
    kubeconfig,
    leaseNamespace: system.name,
    workDir: WORK,
    leaderElect,
    namespaces: [opNs.name, probeNs.name],
    extraEnv: {
      LOG_LEVEL: "warn",
      DSO_WORKERS: String(WORKERS),
      DSO_JOB_POD_LABELS: "",
      NODE_OPTIONS: OPERATOR_NODE_OPTIONS,
      ...OPERATOR_RUNTIME_ENV,
    },
  });
let op = await startBenchOperator("bench-op", false);
await api.createNamespacedCustomObject({
  ...GROUP,
  namespace: probeNs.name,
  body: manifest(probeNs.name, RSS_N + 1, "f"),
});
const operatorStatus = await writtenStatus(api, probeNs.name, `bench-${RSS_N + 1}`);
const floorBefore = await floor("b", operatorStatus);

// Operator run.
await new Promise((r) => setTimeout(r, 3000));
const finished = await completion(opNs.name, N);
const operatorPid = { operator: op.proc.pid! };
const operatorCpu = controlPlaneCpu(operatorPid);
const requestsBefore = await requestCounts();
const t0 = performance.now();
await pool(
  Array.from({ length: N }, (_, i) => i),
  16,
  (i) => api.createNamespacedCustomObject({ ...GROUP, namespace: opNs.name, body: manifest(opNs.name, i, "a") }),
);
const operatorMs = (await finished.done) - t0;
const operatorCpuUsed = cpuSince(operatorCpu, operatorPid);
finished.stop();
const operatorRequests = requestsSince(requestsBefore, await requestCounts());
const opMetrics = await op.metrics();
const floorAfter = await floor("c", operatorStatus);
const floorMs = (floorBefore + floorAfter) / 2;

// Peak RSS with RSS_N deployments, each with its own revision: every one has its own PVC, Job,
// ServiceAccount, Role, RoleBinding and Service in the caches (the heavy case).
await pool(
  Array.from({ length: RSS_N - N }, (_, i) => i + N),
  16,
  (i) => api.createNamespacedCustomObject({ ...GROUP, namespace: opNs.name, body: manifest(opNs.name, i, "a") }),
);
for (;;) {
  if ((await countReady(opNs.name)) >= RSS_N) break;
  await new Promise((r) => setTimeout(r, 1000));
}
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${op.proc.pid}/status`, "utf8"))?.[1];
// Where the memory is at that point (prom-client's process metrics): V8 heap in use and allocated, off-heap.
const mem = await op.metrics();
const mib = (name: string) => (counterSum(mem, name) / 1048576).toFixed(0);

// Restart and failover with RSS_N deployments in the caches-to-be.
const until = async (cond: () => Promise<boolean>, what: string): Promise<number> => {
  for (let i = 0; i < 6000; i++) {
    if (await cond().catch(() => false)) return performance.now();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`bench: timed out waiting for ${what}`);
};
const counter = async (o: typeof op, name: string, filter?: (l: Record<string, string>) => boolean) =>
  counterSum(await o.metrics(), name, filter);
await op.stop();
const restartedAt = performance.now();
op = await startBenchOperator("bench-op-restarted", false);
const restartMs =
  (await until(async () => (await counter(op, "controller_runtime_reconcile_total")) > 0, "the first reconcile")) -
  restartedAt;
await op.stop();
const holder = async () =>
  (
    await kubectlOk([
      "-n",
      system.name,
      "get",
      "lease",
      "deepseek-operator",
      "-o",
      "jsonpath={.spec.holderIdentity}",
    ]).catch(() => "")
  ).trim();
const leader = await startBenchOperator("bench-op-a", true);
await until(async () => (await holder()) === "bench-op-a", "bench-op-a leads");
await until(async () => (await counter(leader, "controller_runtime_reconcile_total")) > 0, "bench-op-a reconciles");
op = await startBenchOperator("bench-op-b", true);
await until(async () => (await op.metrics()).length > 0, "bench-op-b serves metrics");
await leader.stop("SIGKILL");
const killedAt = performance.now();
// Something to write: in a steady state a new leader has nothing to do.
await api.createNamespacedCustomObject({ ...GROUP, namespace: opNs.name, body: manifest(opNs.name, RSS_N, "a") });
const takeoverMs =
  (await until(async () => (await holder()) === "bench-op-b", "bench-op-b takes the lease")) - killedAt;
const ownWrites = (l: Record<string, string>) => l.kind !== "Lease" && l.kind !== "Event";
const failoverMs =
  (await until(
    async () => (await counter(op, "deepseek_operator_api_writes_total", ownWrites)) > 0,
    "bench-op-b writes",
  )) - killedAt;
console.log(`deepseekdeployments=${N} workers=${WORKERS} storageClass=${STORAGE_CLASS ?? "(cluster default)"}`);
console.log(
  `operator: ${(operatorMs / 1000).toFixed(1)} s until every DeepSeekDeployment had its 6 children and a written status`,
);
console.log(
  `floor:    ${(floorMs / 1000).toFixed(1)} s for a plain client to create the ${N} deployments, their ${N * 6} children and ${N} status applies (the operator's status, ${JSON.stringify(operatorStatus).length} bytes) with ` +
    `${WORKERS} in flight (before ${(floorBefore / 1000).toFixed(1)} s, after ${(floorAfter / 1000).toFixed(1)} s)`,
);
console.log(
  `control-plane CPU seconds: operator run: ${operatorCpuUsed}; floor before: ${floorCpu[0]}; floor after: ${floorCpu[1]}`,
);
console.log(
  `apiserver requests (20 or more of a kind): operator run: ${operatorRequests}; floor before: ${floorRequests[0]}; floor after: ${floorRequests[1]}`,
);
console.log(
  `operator: ${counterSum(opMetrics, "controller_runtime_reconcile_total")} reconciles, ` +
    `${counterSum(opMetrics, "deepseek_operator_api_writes_total")} API writes (${N * 7} needed: 6 children and a ` +
    `status; the finalizer comes with the create, from the chart's admission policy)`,
);
const meanMs = (name: string) =>
  ((counterSum(opMetrics, `${name}_sum`) / Math.max(1, counterSum(opMetrics, `${name}_count`))) * 1000).toFixed(0);
console.log(
  `operator: mean reconcile ${meanMs("controller_runtime_reconcile_time_seconds")} ms, ` +
    `mean wait in the queue ${meanMs("workqueue_queue_duration_seconds")} ms (diagnostic: where a deployment's time goes)`,
);
console.log(
  `operator memory with ${RSS_N}: rss ${mib("process_resident_memory_bytes")} MiB, V8 heap used ` +
    `${mib("nodejs_heap_size_used_bytes")} of ${mib("nodejs_heap_size_total_bytes")} MiB, external ${mib("nodejs_external_memory_bytes")} MiB`,
);
console.log(
  `operator_peak_rss_mib=${hwm ? (Number(hwm) / 1024).toFixed(0) : "unknown"} with ${RSS_N} DeepSeekDeployments (goal: under 150)`,
);
console.log(
  `restart_to_first_reconcile_ms=${restartMs.toFixed(0)} with ${RSS_N} DeepSeekDeployments (a new operator process: start, lists, first reconcile)`,
);
console.log(
  `leader_kill_to_first_write_ms=${failoverMs.toFixed(0)} with ${RSS_N} DeepSeekDeployments (lease taken after ${takeoverMs.toFixed(0)} ms; lease 15 s, retry 2 s)`,
);
console.log(`reconcile_ratio=${(operatorMs / floorMs).toFixed(2)}`);

// Clean up after printing (a slow namespace deletion must not lose the numbers). Deployments are
// deleted while the operator still runs: their finalizers must come off, or the namespace hangs.
try {
  for (const n of [opNs, probeNs]) await kubectlOk(["-n", n.name, "delete", "dsd", "--all", "--wait=false"]);
  for (let i = 0; i < 600 && (await countAll(opNs.name)) + (await countAll(probeNs.name)) > 0; i++)
    await new Promise((r) => setTimeout(r, 1000));
} finally {
  await op.stop();
  // Waited for, so the next run does not start inside this one's garbage collection. Past the timeout
  // (1000 deployments' children, on two shared cores) the numbers above stand: the next run waits for
  // what is left before it measures.
  for (const n of [opNs, probeNs, system]) {
    await n
      .deleteAndWait()
      .catch((err: unknown) =>
        console.error(
          `cleanup: ${n.name} still terminating (${(err as Error).message.split("\n")[0]}); the next run waits for it`,
        ),
      );
  }
}
