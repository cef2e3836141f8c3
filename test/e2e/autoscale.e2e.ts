// The builtin autoscaler end to end on the real control plane: engine simulators run behind the engine
// pods (the local runner starts one per pod, on the pod's IP, and holds the pod un-Ready until it
// loaded), the official openai client sends the load, two operator processes run with leader
// election. Then the hand-off modes: the rendered HPA and ScaledObject are accepted by the apiserver
// with KEDA's own CRD installed.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import OpenAI from "openai";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { parseSpec } from "../../operator/src/api/index.ts";
import { renderHpa, renderScaledObject, type Dsd as RenderDsd } from "../../operator/src/render/index.ts";
import { startHubServer, type HubServer } from "../../operator/src/sim/hub/server.ts";
import { v4FlashShapedRepo, V4_FLASH_REVISION } from "../../operator/src/sim/hub/repo.ts";
import { LocalPodRunner } from "../harness/local-runner.ts";
import {
  counterSum,
  installOperatorIdentity,
  startOperator,
  waitUntilCreatable,
  type OperatorProcess,
} from "../harness/operator.ts";
import {
  installCrd,
  createTestNamespace,
  kubectl,
  kubectlJson,
  kubectlOk,
  loadKubeConfig,
  REPO_ROOT,
  waitCrdEstablished,
  waitFor,
  type TestNamespace,
} from "./lib/index.ts";

const WORK = join(REPO_ROOT, ".cluster", "e2e-autoscale");
const GROUP = { group: "serving.deepseek-operator.io", version: "v1alpha1", plural: "deepseekdeployments" };
const MODEL = "deepseek-ai/DeepSeek-V4-Flash";
const NAME = "flash-as";
/** Down window of the test deployment: long enough to see it hold, short enough for a test. */
const DOWN_WINDOW_S = 30;

type Dsd = { metadata: { name: string; managedFields?: ManagedField[] }; spec: any; status?: any };
type ManagedField = { manager: string; operation: string; subresource?: string; fieldsV1?: any };
type Pod = {
  metadata: { name: string; uid: string; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { podIP?: string; phase?: string; conditions?: { type: string; status: string }[] };
};

let kc: KubeConfig;
let api: CustomObjectsApi;
let system: TestNamespace;
let ns: TestNamespace;
let hub: HubServer;
let runner: LocalPodRunner;
const operators: OperatorProcess[] = [];

const getDsd = async () => (await api.getNamespacedCustomObject({ ...GROUP, namespace: ns.name, name: NAME })) as Dsd;
const enginePods = async () =>
  (
    await kubectlJson<{ items: Pod[] }>(["-n", ns.name, "get", "pods", "-l", `app.kubernetes.io/instance=${NAME}`])
  ).items.filter((p) => !p.metadata.deletionTimestamp);
const isReady = (p: Pod) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const podKey = (p: Pod) => `${ns.name}/${p.metadata.name}`;

/**
 * Open-loop load from the official client against one engine pod: a request every 1000/rate ms,
 * whether or not the earlier ones finished (users do not wait for each other), until `stop` aborts.
 */
function load(ip: string, ratePerSecond: number, maxTokens: number, stop: AbortSignal) {
  const client = new OpenAI({ baseURL: `http://${ip}:8000/v1`, apiKey: "unused", maxRetries: 0, timeout: 600_000 });
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  const inflight = new Set<Promise<void>>();
  const send = (i: number) => {
    const p: Promise<void> = client.completions
      .create({ model: MODEL, prompt: `request ${i}`, max_tokens: maxTokens }, { signal: stop })
      .then(
        () => void stats.ok++,
        (err: Error) => {
          if (stop.aborted) return;
          stats.failed++;
          if (stats.errors.length < 5) stats.errors.push(err.message);
        },
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };
  let i = 0;
  const timer = setInterval(() => send(i++), 1000 / ratePerSecond);
  stop.addEventListener("abort", () => clearInterval(timer), { once: true });
  return {
    stats,
    done: new Promise<void>((resolve) =>
      stop.addEventListener("abort", () => void Promise.allSettled([...inflight]).then(() => resolve()), {
        once: true,
      }),
    ),
  };
}

beforeAll(async () => {
  mkdirSync(WORK, { recursive: true });
  kc = loadKubeConfig();
  api = kc.makeApiClient(CustomObjectsApi);
  await installCrd();
  system = await createTestNamespace("e2e-as-system", kc);
  ns = await createTestNamespace("e2e-as", kc);
  const operatorKubeconfig = await installOperatorIdentity(system.name, WORK, [ns.name]);
  await waitUntilCreatable(ns.name);
  hub = await startHubServer({ repos: [v4FlashShapedRepo({ shardSize: 1024 })], host: "127.0.0.1", port: 0 });
  // Two running slots per data-parallel rank (8 per replica) at 10 tokens/s each: a queue builds quickly.
  runner = new LocalPodRunner({
    admin: kc,
    workDir: join(WORK, "pods"),
    engines: {
      loadSeconds: 6,
      readyWhenUp: true,
      simArgs: ["--max-num-seqs", "2", "--tokens-per-second-per-seq", "10"],
    },
  });
  runner.start();
  for (const name of ["op-a", "op-b"]) {
    operators.push(
      await startOperator({
        name,
        shipped: true,
        kubeconfig: operatorKubeconfig,
        leaseNamespace: system.name,
        workDir: WORK,
        namespaces: [ns.name],
      }),
    );
    if (name === "op-a")
      await waitFor(
        async () =>
          (
            await kubectlJson<{ spec: { holderIdentity?: string } }>([
              "-n",
              system.name,
              "get",
              "lease",
              "deepseek-operator",
            ])
          ).spec.holderIdentity === "op-a",
        { timeoutMs: 60_000, what: "op-a holds the lease" },
      );
  }
}, 300_000);

afterAll(async () => {
  for (const o of operators) await o.stop();
  await runner?.stop();
  await hub?.close();
  await ns?.delete();
  await system?.delete();
}, 120_000);

describe("the builtin autoscaler", () => {
  it("refuses minReplicas 0 with Builtin at admission, with the reason", async () => {
    const r = await kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "serving.deepseek-operator.io/v1alpha1",
        kind: "DeepSeekDeployment",
        metadata: { name: "zero", namespace: ns.name },
        spec: {
          model: { revision: V4_FLASH_REVISION },
          autoscaling: { mode: "Builtin", minReplicas: 0, maxReplicas: 2 },
        },
      }),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.autoscaling\.minReplicas 0 needs something that sees requests/);
  });

  it("scales up under load through the scale subresource, and down only after the window, removing the idlest replica; missing metrics hold it", async () => {
    await api.createNamespacedCustomObject({
      ...GROUP,
      namespace: ns.name,
      body: {
        apiVersion: "serving.deepseek-operator.io/v1alpha1",
        kind: "DeepSeekDeployment",
        metadata: { name: NAME, namespace: ns.name },
        spec: {
          model: { revision: V4_FLASH_REVISION, source: { huggingFace: { endpoint: hub.url } } },
          gpu: { type: "H200" },
          replicas: 1,
          autoscaling: {
            mode: "Builtin",
            minReplicas: 1,
            // Two H200 nodes of 8 GPUs hold four replicas of 4: the fifth waits for GPUs.
            maxReplicas: 5,
            targetQueueDepth: 2,
            scaleUpStabilizationSeconds: 0,
            scaleDownStabilizationSeconds: DOWN_WINDOW_S,
            maxScaleUpStep: 4,
            maxScaleDownStep: 1,
            drainGracePeriodSeconds: 60,
            metrics: { scrapeIntervalSeconds: 2, staleAfterSeconds: 6 },
          },
        },
      },
    });
    const first = await waitFor(
      async () => {
        const pods = (await enginePods()).filter((p) => isReady(p) && p.status.podIP);
        return pods.length === 1 ? pods[0] : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1000, what: "one ready engine pod" },
    );
    expect((await getDsd()).spec.replicas).toBe(1);

    // Load on the one replica: 8 requests/s against what it finishes (8 slots × 10 tokens/s / 40 tokens = 2/s).
    const stopLoad = new AbortController();
    const traffic = load(first.status.podIP!, 8, 40, stopLoad.signal);
    let sawLoading = 0;
    let sawColumns: string[] | undefined;
    const scaled = await waitFor(
      async () => {
        const d = await getDsd();
        sawLoading = Math.max(sawLoading, d.status?.autoscaling?.loadingReplicas ?? 0);
        const row = (
          await kubectlOk(["-n", ns.name, "get", "dsd", NAME, "--no-headers", "-o", "wide"]).catch(() => "")
        ).trim();
        // NAME PHASE READY DESIRED GPUS WEIGHTS QUEUE TOKENS/S AGE ...
        const cols = row.split(/\s+/);
        if (Number(cols[6]) > 0 && Number(cols[7]) > 0) sawColumns = cols;
        const ready = (await enginePods()).filter(isReady).length;
        return d.spec.replicas === 5 && ready === 4 && sawColumns && d.status?.autoscaling?.waitingForGpus === 1
          ? d
          : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1000, what: "5 desired, 4 ready, 1 waiting for GPUs, live columns" },
    );
    // The replicas came through the scale subresource, under the autoscaler's own field manager.
    const scaleEntry = scaled.metadata.managedFields?.find(
      (f) => f.manager === "deepseek-operator-autoscaler" && f.subresource === "scale",
    );
    expect(scaleEntry?.fieldsV1).toEqual({ "f:spec": { "f:replicas": {} } });
    expect(sawColumns).toBeDefined();
    expect(sawLoading).toBeGreaterThan(0);
    expect(scaled.status.autoscaling).toMatchObject({ waitingForGpus: 1, desiredReplicas: 5 });
    const gpus = scaled.status.conditions.find((c: { type: string }) => c.type === "GPUsAvailable");
    expect(gpus).toMatchObject({ status: "False", reason: "InsufficientGPUs" });
    expect(gpus.message).toMatch(/the cluster has 16 H200 GPUs on 2 nodes/);
    // Every placed replica is on a GPU node.
    const nodes = await kubectlJson<{ items: { metadata: { name: string; labels: Record<string, string> } }[] }>([
      "get",
      "nodes",
      "-l",
      "nvidia.com/gpu.product=NVIDIA-H200",
    ]);
    const gpuNodes = new Set(nodes.items.map((n) => n.metadata.name));
    for (const p of (await enginePods()).filter(isReady)) expect(gpuNodes.has(p.spec.nodeName!)).toBe(true);
    const up = await kubectlJson<{ items: { reason: string; note: string }[] }>([
      "-n",
      ns.name,
      "get",
      "events.events.k8s.io",
      "--field-selector",
      "reason=ScaledUp",
    ]);
    expect(up.items.map((e) => e.note).join("\n")).toMatch(/^scale up 1→\d: queue: /m);

    // The load stops. One replica keeps a long request; another's metrics go missing (its process frozen).
    stopLoad.abort();
    await traffic.done;
    expect(traffic.stats.ok).toBeGreaterThan(0);
    const ready = (await enginePods()).filter((p) => isReady(p) && p.status.podIP);
    const busy = ready[0]!;
    const frozen = ready[1]!;
    const longClient = new OpenAI({ baseURL: `http://${busy.status.podIP}:8000/v1`, apiKey: "unused", maxRetries: 0 });
    const long = longClient.completions.create({ model: MODEL, prompt: "a long answer", max_tokens: 1400 });
    // Handled here too: if a step below fails first, this request must not fail the next suite.
    long.catch(() => undefined);
    runner.freeze(podKey(frozen), true);
    const stale = await waitFor(
      async () => {
        const d = await getDsd();
        return (d.status?.metrics?.replicasStale ?? 0) >= 1 ? d : undefined;
      },
      // A bound, not a timing: on a loaded machine the scrape timeout, staleness and the status throttle add up.
      { timeoutMs: 180_000, intervalMs: 1000, what: "a stale replica in status" },
    );
    expect(stale.spec.replicas).toBe(5);
    // Longer than the window with a replica unread: no scale-down.
    await sleep((DOWN_WINDOW_S + 10) * 1000);
    const held = await getDsd();
    expect(held.spec.replicas).toBe(5);
    expect(held.status.autoscaling.reason).toMatch(/missing or stale/);

    runner.freeze(podKey(frozen), false);
    const down = await waitFor(
      async () => {
        const d = await getDsd();
        const pods = await enginePods();
        return d.spec.replicas === 1 && pods.length === 1 ? { d, pods } : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000, what: "scaled down to 1" },
    );
    // The replica left is the one with a request in flight, and that request finished whole.
    expect(down.pods[0]!.metadata.uid).toBe(busy.metadata.uid);
    expect(down.pods[0]!.metadata.annotations?.["controller.kubernetes.io/pod-deletion-cost"]).toBe("1");
    const answer = await long;
    expect(answer.usage?.completion_tokens).toBe(1400);
    expect(answer.choices[0]?.finish_reason).toBe("length");
    // The scale subresource write comes first and the status naming it a moment later: read until it catches up.
    const reason = await waitFor(
      async () => {
        const r: string | undefined = (await getDsd()).status?.lastScaleReason;
        return r?.startsWith("scale down 2→1") ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "status.lastScaleReason naming the last move" },
    ).catch(async () => (await getDsd()).status?.lastScaleReason as string | undefined);
    expect(reason).toMatch(/^scale down 2→1: /);
    const downEvents = await kubectlJson<{ items: unknown[] }>([
      "-n",
      ns.name,
      "get",
      "events.events.k8s.io",
      "--field-selector",
      "reason=ScaledDown",
    ]);
    expect(downEvents.items.length).toBeGreaterThanOrEqual(4);

    // Only the leader ran the loop: the follower has no autoscaler decisions on its /metrics.
    const [leader, follower] = operators;
    expect(counterSum(await leader!.metrics(), "deepseek_autoscaler_scales_total")).toBeGreaterThanOrEqual(5);
    expect(await follower!.metrics()).not.toMatch(/^deepseek_autoscaler_scales_total\{/m);
  }, 900_000);
});

describe("hand-off modes", () => {
  it("mode HPA: the operator renders the HorizontalPodAutoscaler on the scale subresource and its own loop stays off; mode None removes it", async () => {
    const name = "flash-hpa";
    await api.createNamespacedCustomObject({
      ...GROUP,
      namespace: ns.name,
      body: {
        apiVersion: "serving.deepseek-operator.io/v1alpha1",
        kind: "DeepSeekDeployment",
        metadata: { name, namespace: ns.name },
        spec: {
          model: { revision: V4_FLASH_REVISION, source: { huggingFace: { endpoint: hub.url } } },
          gpu: { type: "H200" },
          replicas: 1,
          autoscaling: { mode: "HPA", minReplicas: 1, maxReplicas: 3, targetQueueDepth: 3 },
        },
      },
    });
    const hpa = await waitFor(
      async () =>
        (await kubectl(["-n", ns.name, "get", "hpa", name, "-o", "json"])).code === 0
          ? kubectlJson<any>(["-n", ns.name, "get", "hpa", name])
          : undefined,
      { timeoutMs: 120_000, intervalMs: 1000, what: "the HorizontalPodAutoscaler" },
    );
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "serving.deepseek-operator.io/v1alpha1",
      kind: "DeepSeekDeployment",
      name,
    });
    expect(hpa.metadata.ownerReferences[0]).toMatchObject({ kind: "DeepSeekDeployment", name, controller: true });
    expect(hpa.spec.metrics[0].pods.metric.name).toBe("vllm_num_requests_waiting");
    const d = (await api.getNamespacedCustomObject({ ...GROUP, namespace: ns.name, name })) as Dsd;
    expect(d.metadata.managedFields?.some((f) => f.manager === "deepseek-operator-autoscaler")).toBe(false);
    expect(d.status?.autoscaling).toBeUndefined();

    await kubectlOk([
      "-n",
      ns.name,
      "patch",
      "dsd",
      name,
      "--type",
      "merge",
      "-p",
      '{"spec":{"autoscaling":{"mode":"None"}}}',
    ]);
    await waitFor(async () => (await kubectl(["-n", ns.name, "get", "hpa", name])).code !== 0, {
      timeoutMs: 120_000,
      intervalMs: 1000,
      what: "the HPA removed with mode None",
    });
  }, 300_000);

  const dsdFor = (mode: "HPA" | "KEDA"): RenderDsd => {
    const parsed = parseSpec({
      model: { revision: V4_FLASH_REVISION },
      autoscaling: {
        mode,
        minReplicas: mode === "KEDA" ? 0 : 1,
        maxReplicas: 4,
        targetTokensPerSecond: 1200,
        metrics: { prometheus: { url: "http://prometheus.monitoring.svc:9090" } },
      },
    });
    if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join("; "));
    return {
      apiVersion: "serving.deepseek-operator.io/v1alpha1",
      kind: "DeepSeekDeployment",
      metadata: {
        name: `handoff-${mode.toLowerCase()}`,
        namespace: ns.name,
        uid: "00000000-0000-0000-0000-000000000001",
      },
      spec: parsed.value,
    };
  };

  it("the HorizontalPodAutoscaler and, with KEDA's own CRD installed, the ScaledObject pass a server-side dry run", async () => {
    const kedaCrd = execFileSync("bash", [join(REPO_ROOT, "test", "cluster", "keda-crd.sh")], {
      encoding: "utf8",
    }).trim();
    await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", kedaCrd]);
    await waitCrdEstablished("scaledobjects.keda.sh");
    for (const obj of [renderHpa(dsdFor("HPA")), renderScaledObject(dsdFor("KEDA"))]) {
      const file = join(WORK, `${obj.kind}.json`);
      writeFileSync(file, JSON.stringify(obj));
      const r = await kubectl(["apply", "--server-side", "--dry-run=server", "--validate=strict", "-f", file]);
      expect({ kind: obj.kind, stderr: r.stderr, code: r.code }).toEqual({ kind: obj.kind, stderr: "", code: 0 });
    }
  }, 300_000);
});
