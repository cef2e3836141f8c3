// Faults of the engine pods, on the real control plane: the real downloader (a local process) pulls
// from a Hub simulator, KWOK plays the GPU nodes and runs the engine pods. An engine crash-looping must
// show as Degraded with the reason; a node lost with its engine pod must end with the replica
// recreated on another node and the deployment Serving again.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { startHubServer, type HubServer } from "../../operator/src/sim/hub/server.ts";
import { v4FlashShapedRepo, V4_FLASH_REVISION } from "../../operator/src/sim/hub/repo.ts";
import { LocalPodRunner } from "../harness/local-runner.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { kubectlJson, kubectlOk, REPO_ROOT, run, waitFor } from "../e2e/lib/index.ts";
import { GROUP, setUp, type Env } from "./lib.ts";

const MODEL = "deepseek-ai/DeepSeek-V4-Flash";
const INSTANCE = "app.kubernetes.io/instance";

type Cond = { type: string; status: string; reason: string; message: string };
type Dsd = {
  metadata: { name: string; generation: number };
  spec: { replicas: number };
  status?: {
    phase?: string;
    readyReplicas?: number;
    observedGeneration?: number;
    conditions?: Cond[];
  };
};

let env: Env;
let hub: HubServer;
let runner: LocalPodRunner;
let operator: OperatorProcess;

const getDsd = async (name: string) =>
  (await env.api.getNamespacedCustomObject({ ...GROUP, namespace: env.ns.name, name })) as Dsd;
const enginePods = async (name: string) =>
  (await kubectlJson<{ items: V1Pod[] }>(["-n", env.ns.name, "get", "pods", "-l", `${INSTANCE}=${name}`])).items.filter(
    (p) => !p.metadata?.labels?.["job-name"] && !p.metadata?.deletionTimestamp,
  );

async function waitForDsd(name: string, what: string, ok: (d: Dsd) => boolean, timeoutMs = 180_000): Promise<Dsd> {
  return waitFor(
    async () => {
      const d = await getDsd(name);
      return ok(d) ? d : undefined;
    },
    { timeoutMs, intervalMs: 500, what: `${name}: ${what}` },
  );
}

const serving = (d: Dsd) =>
  d.status?.phase === "Serving" &&
  (d.status.readyReplicas ?? 0) >= d.spec.replicas &&
  d.status.observedGeneration === d.metadata.generation;

async function create(name: string): Promise<void> {
  await env.api.createNamespacedCustomObject({
    ...GROUP,
    namespace: env.ns.name,
    body: {
      apiVersion: "serving.deepseek-operator.io/v1alpha1",
      kind: "DeepSeekDeployment",
      metadata: { name, namespace: env.ns.name },
      spec: {
        model: { name: MODEL, revision: V4_FLASH_REVISION, source: { huggingFace: { endpoint: hub.url } } },
        gpu: { type: "H200" },
        replicas: 1,
      },
    },
  });
}

beforeAll(async () => {
  env = await setUp("engines");
  hub = await startHubServer({ repos: [v4FlashShapedRepo({ shardSize: 64 * 1024 })], host: "127.0.0.1", port: 0 });
  mkdirSync(join(env.work, "pods"), { recursive: true });
  runner = new LocalPodRunner({ admin: env.kc, workDir: join(env.work, "pods") });
  runner.start();
  operator = await startOperator({
    name: "op",
    shipped: true,
    kubeconfig: env.identity,
    leaseNamespace: env.system.name,
    workDir: env.work,
    namespaces: [env.ns.name],
  });
}, 300_000);

afterAll(async () => {
  // Deleted while the operator runs, so their finalizers come off and no engine pod keeps GPUs.
  await kubectlOk(["-n", env.ns.name, "delete", "dsd", "--all", "--wait=true", "--timeout=120s"]).catch(
    () => undefined,
  );
  await operator?.stop();
  await runner?.stop();
  await hub?.close();
  await env?.ns.delete();
  await env?.system.delete();
  // Brings back any node a test deleted (up.sh creates only the missing ones).
  await run("bash", [join(REPO_ROOT, "test", "cluster", "up.sh")], { timeoutMs: 300_000 });
}, 400_000);

describe("engine pods under faults", () => {
  it("an engine pod crash-looping: the deployment shows Degraded with the reason, and recovers once replaced", async () => {
    await create("crash");
    await waitForDsd("crash", "Serving", serving, 240_000);
    const [pod] = await enginePods("crash");
    const podName = pod!.metadata!.name!;
    const container = pod!.spec!.containers[0]!.name;
    // What the kubelet reports for a container that keeps exiting non-zero (KWOK leaves a Running pod's
    // status alone).
    const now = new Date().toISOString();
    const core = env.kc.makeApiClient(CoreV1Api);
    const injectedAt = Date.now();
    await kubectlOk([
      "-n",
      env.ns.name,
      "patch",
      "pod",
      podName,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: {
          phase: "Running",
          conditions: [
            { type: "Ready", status: "False", reason: "ContainersNotReady", lastTransitionTime: now },
            { type: "ContainersReady", status: "False", reason: "ContainersNotReady", lastTransitionTime: now },
            { type: "PodScheduled", status: "True", lastTransitionTime: pod!.metadata!.creationTimestamp },
          ],
          containerStatuses: [
            {
              name: container,
              image: pod!.spec!.containers[0]!.image,
              imageID: "",
              ready: false,
              started: false,
              restartCount: 6,
              state: {
                waiting: {
                  reason: "CrashLoopBackOff",
                  message: `back-off 2m40s restarting failed container=${container} pod=${podName}`,
                },
              },
              lastState: { terminated: { exitCode: 1, reason: "Error", startedAt: now, finishedAt: now } },
            },
          ],
        },
      }),
    ]);
    const degraded = await waitForDsd("crash", "Degraded", (d) => d.status?.phase === "Degraded", 120_000);
    const reported = Date.now() - injectedAt;
    const why = (degraded.status?.conditions ?? []).find((c) => c.reason === "CrashLoop");
    expect(why).toBeDefined();
    expect(why!.message).toContain(podName);
    expect(why!.message).toMatch(/crash-looping/);
    const printed = await kubectlOk(["-n", env.ns.name, "get", "dsd", "crash"]);
    expect(printed).toMatch(/Degraded/);
    // The pod replaced (as a node's kubelet giving up would lead to): Serving again.
    await core.deleteNamespacedPod({ name: podName, namespace: env.ns.name });
    const replacedAt = Date.now();
    await waitForDsd("crash", "Serving again", serving, 180_000);
    process.stderr.write(
      `crash loop: Degraded (CrashLoop) ${reported} ms after injection; Serving ${Date.now() - replacedAt} ms after the pod was replaced\n`,
    );
    await kubectlOk(["-n", env.ns.name, "delete", "dsd", "crash", "--wait=true", "--timeout=120s"]);
  }, 600_000);

  it("a node with an engine pod deleted: the replica is recreated on another node and the deployment serves again", async () => {
    await create("node-loss");
    await waitForDsd("node-loss", "Serving", serving, 240_000);
    const [pod] = await enginePods("node-loss");
    const node = pod!.spec!.nodeName!;
    expect(node).toBeTruthy();
    const deletedAt = Date.now();
    await kubectlOk(["delete", "node", node, "--wait=false"]);
    // The pod on the lost node is garbage-collected, and its replacement scheduled elsewhere and Ready.
    const moved = await waitFor(
      async () => {
        const pods = await enginePods("node-loss");
        const p = pods[0];
        const ready = p?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        return pods.length === 1 && p!.spec?.nodeName && p!.spec.nodeName !== node && ready ? p : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500, what: "the engine pod recreated on another node and Ready" },
    );
    const rescheduled = Date.now() - deletedAt;
    await waitForDsd("node-loss", "Serving again", serving, 180_000);
    process.stderr.write(
      `node loss: ${node} deleted; engine pod Ready on ${moved.spec!.nodeName} after ${rescheduled} ms; Serving ${Date.now() - deletedAt} ms after the delete\n`,
    );
    // Recreated, not duplicated.
    expect(await enginePods("node-loss")).toHaveLength(1);
    expect(
      (
        await kubectlJson<{ items: unknown[] }>([
          "-n",
          env.ns.name,
          "get",
          "deployments",
          "-l",
          `${INSTANCE}=node-loss`,
        ])
      ).items,
    ).toHaveLength(1);
  }, 600_000);
});
