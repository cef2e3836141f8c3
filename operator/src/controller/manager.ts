// Wires the operator together: informers → work queue → reconciler → apiserver, plus metrics,
// health, the GPU snapshot and, when enabled, leader election (only the leader runs informers and
// reconciles; losing the lease stops the work).
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../util/log.ts";
import { ApplyClient } from "./runtime/apply.ts";
import { Controller } from "./runtime/controller.ts";
import { enqueueFor, selfKey } from "./runtime/handlers.ts";
import { splitKey } from "./runtime/controller.ts";
import { OperatorMetrics, serveMetrics } from "./runtime/metrics.ts";
import { isNotFound } from "./runtime/errors.ts";
import { allInformers, cachesOf, makeInformers, type InformerSet } from "./informers.ts";
import { controllerOwner, everyOwner, jobOwners, nodeCapacityChanged, podInstance } from "./mappers.ts";
import { reconcileDeepSeekDeployment } from "./deepseek/reconciler.ts";
import { apiWriter } from "./writer.ts";
import type { EventRecorder } from "./runtime/events.ts";
import type { HealthReporter } from "./runtime/health.ts";
import type { WriteFence } from "./runtime/fence.ts";
import type { JobConfig } from "../render/index.ts";
import { AutoscalerLoop } from "../autoscaler/loop.ts";
import { AutoscalerMetrics } from "../autoscaler/metrics.ts";

export interface ManagerOptions {
  kc: KubeConfig;
  namespaces: string[];
  jobs: JobConfig;
  workers: number;
  metricsPort: number;
  healthPort: number;
  bindAddress: string;
  log: Logger;
}

export interface Manager {
  metrics: OperatorMetrics;
  client: ApplyClient;
  /**
   * Start informers and workers; resolves once reconciling, rejects when they cannot start (a discovery error,
   * a cache that does not sync). Every write of the work goes through `fence` (leader election; fence.ts).
   */
  startWork(events: EventRecorder, fence?: WriteFence): Promise<void>;
  /** Stop the workers (waiting up to graceMs for reconciles in flight, then aborting them) and the informers. */
  stopWork(graceMs?: number): Promise<void>;
  /** Whether the controllers run: started and not stopped. Feeds the probes. */
  working(): boolean;
  /** The running informers, for the /healthz and /readyz checks (none while not leading). */
  informers(): HealthReporter[];
  servers: { close(): Promise<void> }[];
}

/** Probed where the operator may list: a watched namespace when it watches a few (its Role is there). */
const probePath = (group: string, plural: string, namespaces: string[]) =>
  namespaces.length > 0 ? `/apis/${group}/namespaces/${namespaces[0]}/${plural}` : `/apis/${group}/${plural}`;
const lwsProbe = (namespaces: string[]) => probePath("leaderworkerset.x-k8s.io/v1", "leaderworkersets", namespaces);
const kedaProbe = (namespaces: string[]) => probePath("keda.sh/v1alpha1", "scaledobjects", namespaces);

async function isServed(client: ApplyClient, path: string): Promise<boolean> {
  try {
    // A selector that matches nothing: we only want to know whether the resource is served.
    await client.listPath(path, { fieldSelector: "metadata.name=served-probe" });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export async function createManager(o: ManagerOptions): Promise<Manager> {
  const metrics = new OperatorMetrics();
  const client = new ApplyClient(o.kc, { metrics, log: o.log });
  const metricsServer = await serveMetrics(metrics, { port: o.metricsPort, host: o.bindAddress }, o.log);
  let informers: InformerSet | undefined;
  let controller: Controller | undefined;
  let working = false;
  let autoscaler: AutoscalerLoop | undefined;
  let autoscalerMetrics: AutoscalerMetrics | undefined;

  return {
    metrics,
    client,
    servers: [metricsServer],
    async startWork(events: EventRecorder, fence?: WriteFence) {
      if (fence) client.setFence(fence);
      const [served, keda] = await Promise.all([
        isServed(client, lwsProbe(o.namespaces)),
        isServed(client, kedaProbe(o.namespaces)),
      ]);
      informers = makeInformers({
        kc: o.kc,
        client,
        namespaces: o.namespaces,
        lwsServed: served,
        kedaServed: keda,
        metrics,
        log: o.log,
      });
      const caches = cachesOf(informers);
      const writer = apiWriter(client, events, o.log);
      const set = informers;
      // The inventory's pods come from a cluster-wide watch (informers.ts); until its first list the free GPUs are unknown.
      const gpuPods = () =>
        set.gpuPods.every((i) => i.hasSynced()) ? set.gpuPods.flatMap((i) => i.list()) : undefined;
      const ctx = {
        caches,
        lwsServed: () => served,
        kedaServed: () => keda,
        gpuPods,
        jobs: o.jobs,
        now: () => new Date(),
      };
      controller = new Controller({
        name: "deepseekdeployment",
        workers: o.workers,
        metrics,
        log: o.log,
        sources: allInformers(informers),
        reconcile: async (key, rc) => {
          const { namespace, name } = splitKey(key);
          return reconcileDeepSeekDeployment(ctx, writer, namespace ?? "", name, rc.log);
        },
      });
      const q = controller.queue;
      for (const i of informers.dsds) i.addHandler(enqueueFor(q, selfKey));
      for (const i of [
        ...informers.deployments,
        ...informers.lws,
        ...informers.services,
        ...informers.pdbs,
        ...informers.hpas,
        ...informers.scaledObjects,
      ])
        i.addHandler(enqueueFor(q, controllerOwner));
      for (const i of informers.pvcs) i.addHandler(enqueueFor(q, everyOwner));
      for (const i of informers.jobs) i.addHandler(enqueueFor(q, jobOwners(caches.pvcs)));
      for (const i of informers.pods) i.addHandler(enqueueFor(q, podInstance));
      const everyDsd = () => informers!.dsds.flatMap((i) => i.list()).map((d) => selfKey(d as KubernetesObject)[0]!);
      for (const i of informers.nodes)
        i.addHandler((obj, type, old) => {
          if (nodeCapacityChanged(obj, type, old)) for (const k of everyDsd()) q.add(k);
        });
      for (const i of allInformers(informers)) i.start();
      await controller.start();
      // The builtin autoscaler runs beside the reconciler, only while this process leads; its writes go
      // through the same fenced client.
      autoscaler = new AutoscalerLoop({
        client,
        dsds: caches.dsds,
        pods: caches.pods,
        nodes: caches.nodes,
        gpuPods,
        event: (obj, e) => events.record(obj, e),
        metrics: (autoscalerMetrics ??= new AutoscalerMetrics(metrics.registry)),
        log: o.log,
      });
      autoscaler.start();
      working = true;
      o.log.info({ namespaces: o.namespaces.length ? o.namespaces : "all", lws: served }, "reconciling");
    },
    async stopWork(graceMs?: number) {
      working = false;
      await autoscaler?.stop();
      await controller?.stop(graceMs);
      for (const i of informers ? allInformers(informers) : []) i.stop();
    },
    informers: () => (informers ? allInformers(informers) : []),
    working: () => working,
  };
}
