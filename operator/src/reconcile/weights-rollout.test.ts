// Shared weights and rollouts under change: what a verify Job is evidence of, who shapes a shared
// PVC, how a deployment lets go of the weights of a revision it left, and that replicas keep
// serving until what replaces them is ready.
import { describe, expect, it } from "@jest/globals";
import { renderWeightsVerify, weightsName, weightsPvcName, type Dsd } from "../render/index.ts";
import { decide } from "./decide.ts";
import { aDsd, aJob, aPvc, NOW, progress, REV, verified, world } from "./fixtures.ts";
import type { Obj } from "./observed.ts";
import { ANNOTATION_VERIFIED } from "../api/weights-contract.ts";

const REV2 = "1111111111111111111111111111111111111111";
const verified2 = () => ({ [ANNOTATION_VERIFIED]: REV2 });
const cond = (d: ReturnType<typeof decide>, type: string) => d.status?.conditions?.find((c) => c.type === type);
const later = (ms: number) => new Date(NOW.getTime() + ms);

function asJob(o: ReturnType<typeof renderWeightsVerify>, status: Record<string, unknown>): Obj {
  return { ...structuredClone(o), metadata: { ...o.metadata, uid: `uid-${o.metadata.name}` }, status };
}
const succeeded = { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] };
const failedAt = (t: Date) => ({
  failed: 2,
  conditions: [
    { type: "Failed", status: "True", lastTransitionTime: t.toISOString(), message: "BackoffLimitExceeded" },
  ],
});

/** A Deployment as the apiserver holds it, with a status. */
function aDeployment(name: string, status: Record<string, unknown>, generation = 1): Obj {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "team", uid: `deploy-${name}`, generation } as Obj["metadata"],
    status: { observedGeneration: generation, ...status },
  };
}

describe("weights on an existing PVC", () => {
  const onPvc = (revision: string, subPath?: string) =>
    aDsd("flash", { model: { revision, source: { pvc: { claimName: "models", ...(subPath ? { subPath } : {}) } } } });

  it("does not take a verify Job made for another revision as evidence, and starts no engine", () => {
    const old = onPvc(REV);
    const oldJob = asJob(renderWeightsVerify(old, world(old).jobs), succeeded);
    expect(decide(world(old, { verifyJobs: [oldJob] })).status?.weights?.verified).toBe(true);
    const moved = onPvc(REV2);
    const d = decide(world(moved, { verifyJobs: [oldJob] }));
    expect(d.status?.weights).toMatchObject({ phase: "Verifying", verified: false });
    expect(d.apply.map((o) => o.kind)).not.toContain("Deployment");
    const job = d.apply.find((o) => o.kind === "Job")!;
    expect(job.metadata.name).not.toBe(oldJob.metadata.name);
    expect(d.delete.map((r) => r.name)).toEqual([oldJob.metadata.name]);
  });

  it("does not take a verify Job of another folder as evidence either", () => {
    const a = onPvc(REV, "a");
    const job = asJob(renderWeightsVerify(a, world(a).jobs), succeeded);
    expect(decide(world(onPvc(REV, "b"), { verifyJobs: [job] })).status?.weights?.verified).toBe(false);
  });

  it("retries a failed verify with backoff, shown in status, as a new Job", () => {
    const dsd = onPvc(REV);
    const failed = asJob(renderWeightsVerify(dsd, world(dsd).jobs), failedAt(NOW));
    const early = decide(world(dsd, { verifyJobs: [failed], now: later(10_000) }));
    expect(early.status?.phase).toBe("Failed");
    expect(early.status?.weights).toMatchObject({ phase: "Failed", reason: "VerificationFailed", attempts: 0 });
    expect(early.status?.weights?.nextRetryTime).toBe("2026-11-28T12:00:30Z");
    expect(early.requeueAfterMs).toBe(20_000);
    expect(early.apply.some((o) => o.kind === "Job")).toBe(false);
    const retry = decide(world(dsd, { verifyJobs: [failed], now: later(30_000) }));
    const next = retry.apply.find((o) => o.kind === "Job")!;
    expect(next.metadata.name).toBe(failed.metadata.name.replace(/-0$/, "-1"));
    expect(retry.delete.map((r) => r.name)).toEqual([failed.metadata.name]);
    expect(retry.status?.weights).toMatchObject({ phase: "Verifying", attempts: 1 });
    expect(retry.events.map((e) => e.reason)).toContain("WeightsRetry");
    // The second failure waits twice as long.
    const second = asJob(renderWeightsVerify(dsd, world(dsd).jobs, 1), failedAt(later(60_000)));
    const wait = decide(world(dsd, { verifyJobs: [second], now: later(90_000) }));
    expect(wait.requeueAfterMs).toBe(30_000);
  });
});

describe("the shared weights PVC", () => {
  it("keeps apart the bytes of different sources: another endpoint or a URL is another PVC", () => {
    const hub = aDsd("a");
    const mirror = aDsd("b", {
      model: { revision: REV, source: { huggingFace: { endpoint: "http://mirror.local" } } },
    });
    const url = aDsd("c", { model: { revision: REV, source: { url: { baseURL: "http://bucket.local/v4" } } } });
    const names = [hub, mirror, url].map(weightsPvcName);
    expect(new Set(names).size).toBe(3);
    // The public Hub keeps the name PVCs had before sources were told apart: retained weights are found.
    expect(names[0]).toBe(weightsName(hub.spec.model.name, REV));
  });

  it("is owned only by the deployments of the same source", () => {
    const a = aDsd("a");
    const mirror = aDsd("b", {
      model: { revision: REV, source: { huggingFace: { endpoint: "http://mirror.local" } } },
    });
    const d = decide(world(a, { sharingWeights: [a, mirror] }));
    const pvc = d.apply.find((o) => o.kind === "PersistentVolumeClaim")!;
    expect(pvc.metadata.ownerReferences!.map((r) => r.name)).toEqual(["a"]);
  });

  it("keeps the shape its first user gave it: a later deployment never shrinks or reshapes it, and is told", () => {
    const first = aDsd("first", { weights: { size: "300Gi", accessMode: "ReadWriteMany" } });
    const live = aPvc(first, verified(), [first]);
    expect((live as any).spec.resources.requests.storage).toBe("300Gi");
    const second = aDsd("second", { weights: { size: "200Gi", accessMode: "ReadWriteOnce" } });
    const d = decide(world(second, { pvc: live, sharingWeights: [first, second] }));
    const pvc = d.apply.find((o) => o.kind === "PersistentVolumeClaim") as any;
    expect(pvc.spec).toEqual({ accessModes: ["ReadWriteMany"], resources: { requests: { storage: "300Gi" } } });
    expect(cond(d, "WeightsStorage")).toMatchObject({ status: "False", reason: "SharedShapeDiffers" });
    expect(cond(d, "WeightsStorage")?.message).toContain("access mode ReadWriteMany (asked: ReadWriteOnce)");
    // A smaller size than the PVC has is no shortfall.
    expect(cond(d, "WeightsStorage")?.message).not.toContain("asked: 200Gi");
    expect(d.events.some((e) => e.type === "Warning" && e.reason === "SharedShapeDiffers")).toBe(true);
    // The first user is content.
    expect(cond(decide(world(first, { pvc: live })), "WeightsStorage")?.status).toBe("True");
  });

  it("releases the deleted deployment from the live shape, not its own (a smaller size would be refused)", () => {
    const big = aDsd("big", { weights: { size: "300Gi" } });
    const live = aPvc(big, verified(), [big]);
    const leaving = aDsd("small", { weights: { size: "200Gi" } }, { deletionTimestamp: NOW.toISOString() });
    live.metadata.ownerReferences!.push({
      apiVersion: leaving.apiVersion,
      kind: leaving.kind,
      name: "small",
      uid: leaving.metadata.uid,
    });
    const d = decide(world(leaving, { pvc: live, sharingWeights: [big, leaving] }));
    const pvc = d.apply.find((o) => o.kind === "PersistentVolumeClaim") as any;
    expect(pvc.spec.resources.requests.storage).toBe("300Gi");
    expect(pvc.metadata.ownerReferences.map((r: { name: string }) => r.name)).toEqual(["big"]);
  });
});

describe("a revision change", () => {
  const old = aDsd("flash", { replicas: 2 });
  const moved: Dsd = { ...aDsd("flash", { replicas: 2, model: { revision: REV2 } }), status: undefined };
  const oldPvc = aPvc(old, verified(), [old]);
  (oldPvc.metadata as { resourceVersion?: string }).resourceVersion = "17";
  const serving = aDeployment("flash", { replicas: 2, readyReplicas: 2, updatedReplicas: 2 });

  it("keeps the old replicas serving and counted while the new weights download", () => {
    const d = decide(world(moved, { deployment: serving, formerPvcs: [{ pvc: oldPvc, users: [] }] }));
    expect(d.apply.map((o) => o.kind)).not.toContain("Deployment");
    expect(d.delete).toEqual([]);
    expect(d.status).toMatchObject({ phase: "Serving", replicas: 2, readyReplicas: 2, updatedReplicas: 0 });
    expect(cond(d, "Progressing")).toMatchObject({ status: "True", reason: "WeightsPending" });
    expect(cond(d, "Available")?.status).toBe("True");
  });

  it("lets go of the old revision's PVC only once the new replicas are all ready", () => {
    const newPvc = aPvc(moved, verified2(), [moved]);
    const rolling = decide(
      world(moved, {
        pvc: newPvc,
        deployment: aDeployment("flash", { replicas: 3, readyReplicas: 2, updatedReplicas: 1 }, 2),
        formerPvcs: [{ pvc: oldPvc, users: [] }],
      }),
    );
    expect(rolling.apply.filter((o) => o.metadata.name === oldPvc.metadata.name)).toEqual([]);
    // Rolled out: under Retain the PVC stays, owned by no one (the garbage collector would delete it with us).
    const first = decide(world(moved, { pvc: newPvc, formerPvcs: [{ pvc: oldPvc, users: [] }] }));
    const deploy = first.apply.find((o) => o.kind === "Deployment")!;
    const done = decide(
      world(moved, {
        pvc: newPvc,
        deployment: {
          ...structuredClone(deploy),
          metadata: { ...deploy.metadata, uid: "d" },
          status: { replicas: 2, readyReplicas: 2, updatedReplicas: 2 },
        },
        formerPvcs: [{ pvc: oldPvc, users: [] }],
      }),
    );
    const released = done.apply.find((o) => o.metadata.name === oldPvc.metadata.name)!;
    expect(released.metadata.ownerReferences).toEqual([]);
    expect((released.metadata as { resourceVersion?: string }).resourceVersion).toBe("17");
    expect(done.delete).toEqual([]);
    expect(done.events.map((e) => e.reason)).toContain("WeightsReleased");
  });

  it("under Delete deletes the old revision's PVC no one uses, guarded by what it saw; keeps one still used", () => {
    const del = { ...aDsd("flash", { model: { revision: REV2 }, weights: { reclaimPolicy: "Delete" } }) };
    const other = aDsd("other");
    const newPvc = aPvc(del, verified2(), [del]);
    const ready = aDeployment("flash", { replicas: 1, readyReplicas: 1, updatedReplicas: 1 });
    const first = decide(world(del, { pvc: newPvc }));
    const deploy = first.apply.find((o) => o.kind === "Deployment")!;
    const live = {
      ...structuredClone(deploy),
      metadata: { ...deploy.metadata, uid: "d" },
      status: ready.status,
    } as Obj;
    const alone = decide(world(del, { pvc: newPvc, deployment: live, formerPvcs: [{ pvc: oldPvc, users: [] }] }));
    expect(alone.delete).toEqual([
      expect.objectContaining({
        kind: "PersistentVolumeClaim",
        name: oldPvc.metadata.name,
        preconditions: { uid: "pvc-uid", resourceVersion: "17" },
      }),
    ]);
    const shared = decide(world(del, { pvc: newPvc, deployment: live, formerPvcs: [{ pvc: oldPvc, users: [other] }] }));
    expect(shared.delete).toEqual([]);
    const kept = shared.apply.find((o) => o.metadata.name === oldPvc.metadata.name)!;
    expect(kept.metadata.ownerReferences!.map((r) => r.name)).toEqual(["other"]);
  });

  it("a deployment deleted mid-rollout takes its name off the old PVC under Retain", () => {
    const leaving = aDsd("flash", { model: { revision: REV2 } }, { deletionTimestamp: NOW.toISOString() });
    const d = decide(world(leaving, { formerPvcs: [{ pvc: oldPvc, users: [] }] }));
    expect(d.apply.find((o) => o.metadata.name === oldPvc.metadata.name)?.metadata.ownerReferences).toEqual([]);
    expect(d.finalizer).toBe("remove");
  });
});

describe("switching between one node and many per replica", () => {
  const multi = aDsd("flash", {
    gpu: { type: "H100", count: 16 },
    parallelism: { data: 16, expert: true, nodesPerReplica: 2 },
    context: { targetConcurrency: 16 },
  });
  const deployment = aDeployment("flash", { replicas: 1, readyReplicas: 1, updatedReplicas: 1 });

  it("keeps the Deployment serving when LeaderWorkerSet is not installed", () => {
    const d = decide(world(multi, { pvc: aPvc(multi, verified()), deployment, lwsServed: false }));
    expect(d.delete).toEqual([]);
    expect(d.status).toMatchObject({ phase: "Degraded", readyReplicas: 1, replicas: 1 });
    expect(cond(d, "Progressing")?.reason).toBe("MissingAPI");
  });

  it("keeps the Deployment serving while the new weights are not verified", () => {
    const d = decide(world(multi, { pvc: aPvc(multi), deployment, lwsServed: true }));
    expect(d.delete).toEqual([]);
    expect(d.apply.map((o) => o.kind)).not.toContain("LeaderWorkerSet");
  });

  it("deletes the Deployment only once the LeaderWorkerSet serves every replica", () => {
    const first = decide(world(multi, { pvc: aPvc(multi, verified()), deployment, lwsServed: true }));
    const lwsObj = first.apply.find((o) => o.kind === "LeaderWorkerSet")!;
    expect(first.delete).toEqual([]);
    const lws = (status: Record<string, unknown>) =>
      ({ ...structuredClone(lwsObj), metadata: { ...lwsObj.metadata, uid: "l" }, status }) as Obj;
    const loading = decide(
      world(multi, {
        pvc: aPvc(multi, verified()),
        deployment,
        lws: lws({ replicas: 1, readyReplicas: 0, updatedReplicas: 1 }),
        lwsServed: true,
      }),
    );
    expect(loading.delete).toEqual([]);
    expect(loading.status).toMatchObject({ phase: "Serving", readyReplicas: 1, replicas: 2 });
    const ready = decide(
      world(multi, {
        pvc: aPvc(multi, verified()),
        deployment,
        lws: lws({ replicas: 1, readyReplicas: 1, updatedReplicas: 1 }),
        lwsServed: true,
      }),
    );
    expect(ready.delete.map((r) => r.kind)).toEqual(["Deployment"]);
  });
});

describe("pods the workload cannot create", () => {
  it("reports the ReplicaSet's refusal with its reason", () => {
    const dsd = aDsd();
    const first = decide(world(dsd, { pvc: aPvc(dsd, verified()) }));
    const deploy = first.apply.find((o) => o.kind === "Deployment")!;
    const live = {
      ...structuredClone(deploy),
      metadata: { ...deploy.metadata, uid: "d" },
      status: {
        replicas: 0,
        conditions: [
          {
            type: "ReplicaFailure",
            status: "True",
            reason: "FailedCreate",
            message: 'pods "flash-abc" is forbidden: exceeded quota: gpus, requested: nvidia.com/gpu=4',
          },
        ],
      },
    } as Obj;
    const d = decide(world({ ...dsd, status: first.status! }, { pvc: aPvc(dsd, verified()), deployment: live }));
    expect(d.status?.phase).toBe("Degraded");
    expect(cond(d, "Degraded")).toMatchObject({ status: "True", reason: "FailedCreate" });
    expect(cond(d, "Degraded")?.message).toContain("exceeded quota");
    expect(d.events.find((e) => e.type === "Warning")?.note).toContain("exceeded quota");
  });
});

describe("a download Job that completed without marking the PVC", () => {
  const dsd = aDsd();
  const done = aJob("x", {
    succeeded: 1,
    conditions: [{ type: "Complete", status: "True", lastTransitionTime: NOW.toISOString() }],
  });
  const pvc = aPvc(dsd, progress({ phase: "Verifying", bytesDone: 1000, bytesTotal: 1000 }));

  it("is run again after a grace period instead of waiting forever", () => {
    const soon = decide(world(dsd, { pvc, pullJob: done, now: later(5_000) }));
    expect(soon.delete).toEqual([]);
    expect(soon.requeueAfterMs).toBe(25_000);
    const d = decide(world(dsd, { pvc, pullJob: done, now: later(30_000) }));
    expect(d.delete.map((r) => r.kind)).toEqual(["Job"]);
    const applied = d.apply.find((o) => o.kind === "PersistentVolumeClaim")!;
    expect(applied.metadata.annotations!["serving.deepseek-operator.io/weights-attempts"]).toBe("1");
    expect(d.events.find((e) => e.reason === "WeightsNotMarked")?.type).toBe("Warning");
  });

  it("is left alone once the mark is there", () => {
    const d = decide(world(dsd, { pvc: aPvc(dsd, verified()), pullJob: done, now: later(60_000) }));
    expect(d.delete).toEqual([]);
    expect(d.requeueAfterMs).toBeUndefined();
  });
});
