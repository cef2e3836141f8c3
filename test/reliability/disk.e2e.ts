// The disk filling up during a download, on the real control plane: the weights PVC's directory (the PV's
// hostPath, which the harness's local runner maps into the downloader's pod) is a small tmpfs this test
// mounts, filled by another writer once the download has begun. The downloader must stop with DiskFull
// (a permanent reason) shown in status, nothing partial may be served, and once the space is freed and
// the failed Job deleted (what a user does after fixing a permanent cause), the retry must converge.
import { existsSync, mkdirSync, readdirSync, statfsSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startHubServer, type HubServer } from "../../operator/src/sim/hub/server.ts";
import { v4FlashShapedRepo, V4_FLASH_REVISION } from "../../operator/src/sim/hub/repo.ts";
import { MARKER_FILE } from "../../operator/src/api/weights-contract.ts";
import { LocalPodRunner } from "../harness/local-runner.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { kubectlJson, kubectlOk, run, waitFor } from "../e2e/lib/index.ts";
import { GROUP, setUp, type Env } from "./lib.ts";

const MODEL = "deepseek-ai/DeepSeek-V4-Flash";
const INSTANCE = "app.kubernetes.io/instance";
const PART_OF = "app.kubernetes.io/part-of=deepseek-operator";
const SHARD = 64 * 1024;

type Cond = { type: string; status: string; reason: string; message: string };
type Dsd = {
  metadata: { name: string; generation: number };
  spec: { replicas: number };
  status?: {
    phase?: string;
    readyReplicas?: number;
    observedGeneration?: number;
    conditions?: Cond[];
    weights?: { phase?: string; reason?: string; message?: string; pvcName?: string };
  };
};
type Meta = { name: string; uid: string };

let env: Env;
let hub: HubServer;
let runner: LocalPodRunner;
let operator: OperatorProcess;
let mounted: string | undefined;

const getDsd = async (name: string) =>
  (await env.api.getNamespacedCustomObject({ ...GROUP, namespace: env.ns.name, name })) as Dsd;
const list = async <T = { metadata: Meta }>(kind: string, selector: string) =>
  (await kubectlJson<{ items: T[] }>(["-n", env.ns.name, "get", kind, "-l", selector])).items;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  env = await setUp("disk");
  hub = await startHubServer({ repos: [v4FlashShapedRepo({ shardSize: SHARD })], host: "127.0.0.1", port: 0 });
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
  // Deleted while the operator runs, so their finalizers come off.
  await kubectlOk(["-n", env.ns.name, "delete", "dsd", "--all", "--wait=true", "--timeout=120s"]).catch(
    () => undefined,
  );
  await operator?.stop();
  await runner?.stop();
  await hub?.close();
  if (mounted) await run("umount", ["-l", mounted]).catch(() => undefined);
  await env?.ns.delete();
  await env?.system.delete();
}, 120_000);

describe("the disk filled during a download", () => {
  it("the Job reports DiskFull in status, nothing partial is served, and a retry after space is freed converges", async () => {
    // Slow enough that the disk fills while shards are still coming.
    hub.setFault({ kind: "rate", bytesPerSecond: 128 * 1024 });
    await env.api.createNamespacedCustomObject({
      ...GROUP,
      namespace: env.ns.name,
      body: {
        apiVersion: "serving.deepseek-operator.io/v1alpha1",
        kind: "DeepSeekDeployment",
        metadata: { name: "full", namespace: env.ns.name },
        spec: {
          model: { name: MODEL, revision: V4_FLASH_REVISION, source: { huggingFace: { endpoint: hub.url } } },
          gpu: { type: "H200" },
          replicas: 1,
        },
      },
    });
    // The weights PVC bound: its PV's directory becomes an 80 MiB tmpfs (room for the 3 MiB model and the downloader's 64 MiB headroom) before the downloader writes.
    const pvName = await waitFor(
      async () => {
        const pvcs = await list<{ metadata: Meta; spec: { volumeName?: string } }>("pvc", PART_OF);
        return pvcs[0]?.spec.volumeName;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: "the weights PVC bound" },
    );
    const pv = await kubectlJson<{ spec: { hostPath: { path: string } } }>(["get", "pv", pvName]);
    const dir = pv.spec.hostPath.path;
    mkdirSync(dir, { recursive: true });
    await run("mount", ["-t", "tmpfs", "-o", "size=80m", "tmpfs", dir]);
    mounted = dir;
    // Once the download has begun writing there, another writer takes all the space left.
    await waitFor(() => filesUnder(dir).some((f) => !f.endsWith("filler")), {
      timeoutMs: 120_000,
      intervalMs: 50,
      what: "the download writing into the volume",
    });
    const filler = join(dir, "filler");
    const free = () => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    };
    try {
      writeFileSync(filler, Buffer.alloc(free()));
    } catch {
      // ENOSPC on the last block: full, which is the point.
    }
    const filledAt = Date.now();
    const failed = await waitFor(
      async () => {
        const d = await getDsd("full");
        return d.status?.weights?.reason === "DiskFull" ? d : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500, what: "DiskFull in status" },
    );
    const reported = Date.now() - filledAt;
    expect(failed.status!.phase).toBe("Failed");
    expect(failed.status!.weights!.phase).toBe("Failed");
    expect(JSON.stringify(failed.status!.conditions)).toMatch(/DiskFull/);
    // Nothing partial served: no engine workload, no engine pod, no completion marker on the volume.
    expect(await list("deployments", `${INSTANCE}=full`)).toEqual([]);
    const pods = await list<{ metadata: Meta & { labels?: Record<string, string> } }>("pods", `${INSTANCE}=full`);
    expect(pods.filter((p) => !p.metadata.labels?.["job-name"])).toEqual([]);
    expect(filesUnder(dir).filter((f) => f.endsWith(`/${MARKER_FILE}`))).toEqual([]);
    const printed = await kubectlOk(["-n", env.ns.name, "get", "dsd", "full"]);
    expect(printed).toMatch(/Failed/);

    // Space freed, the failed Job deleted: the retry resumes and the deployment serves.
    unlinkSync(filler);
    hub.clearFaults();
    const jobs = await list("jobs", PART_OF);
    expect(jobs).toHaveLength(1);
    const retryAt = Date.now();
    await kubectlOk(["-n", env.ns.name, "delete", "job", jobs[0]!.metadata.name, "--wait=true"]);
    const serving = await waitFor(
      async () => {
        const d = await getDsd("full");
        return d.status?.phase === "Serving" && (d.status.readyReplicas ?? 0) >= 1 ? d : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500, what: "Serving after the retry" },
    );
    expect(serving.status!.weights!.reason ?? "").not.toBe("DiskFull");
    expect(existsSync(filler)).toBe(false);
    process.stderr.write(
      `disk full: DiskFull in status ${reported} ms after the disk filled; Serving ${Date.now() - retryAt} ms after the retry\n`,
    );
  }, 600_000);
});
