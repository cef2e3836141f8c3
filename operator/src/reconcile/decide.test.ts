import { describe, expect, it } from "@jest/globals";
import { plan as runPlanner } from "../planner/index.ts";
import { FINALIZER, weightsName, type KubeObject } from "../render/index.ts";
import { decide } from "./decide.ts";
import { planInputFromSpec } from "./plan-input.ts";
import { aDsd, aJob, aPod, aPvc, NOW, progress, REV, verified, world } from "./fixtures.ts";
import type { Obj } from "./observed.ts";

const kinds = (objs: KubeObject[]) => objs.map((o) => o.kind).sort();
const cond = (d: ReturnType<typeof decide>, type: string) => d.status?.conditions?.find((c) => c.type === type);

/** Feed the decision's applied objects back as the live state, as the apiserver would. */
function live(objs: KubeObject[], kind: string, status?: Record<string, unknown>): Obj | undefined {
  const o = objs.find((x) => x.kind === kind);
  return o
    ? { ...structuredClone(o), metadata: { ...o.metadata, uid: `${kind}-uid` }, ...(status ? { status } : {}) }
    : undefined;
}

describe("a new DeepSeekDeployment", () => {
  it("gets the finalizer and the weights PVC first, and waits for the PVC before the Job", () => {
    const dsd = aDsd("flash", {}, { finalizers: [] });
    const d = decide(world(dsd));
    expect(d.finalizer).toBe("add");
    expect(kinds(d.apply)).toEqual(["PersistentVolumeClaim", "Service"]);
    expect(d.status?.phase).toBe("Downloading");
    expect(cond(d, "PlanValid")?.status).toBe("True");
    expect(d.requeueAfterMs).toBeGreaterThan(0);
  });

  it("sizes the PVC from the model profile with headroom", () => {
    const d = decide(world(aDsd()));
    const pvc = d.apply.find((o) => o.kind === "PersistentVolumeClaim") as any;
    expect(pvc.spec.resources.requests.storage).toBe("164Gi"); // 148.66 GiB × 1.1, rounded up
    expect(pvc.metadata.ownerReferences).toEqual([
      {
        apiVersion: "serving.deepseek-operator.io/v1alpha1",
        kind: "DeepSeekDeployment",
        name: "flash",
        uid: "uid-flash",
      },
    ]);
  });

  it("starts the download Job under a ServiceAccount that may patch only its PVC", () => {
    const dsd = aDsd();
    const d = decide(world(dsd, { pvc: aPvc(dsd) }));
    expect(kinds(d.apply)).toEqual(["Job", "Role", "RoleBinding", "Service", "ServiceAccount"]);
    const role = d.apply.find((o) => o.kind === "Role") as any;
    expect(role.rules).toEqual([
      {
        apiGroups: [""],
        resources: ["persistentvolumeclaims"],
        resourceNames: [weightsName(dsd.spec.model.name, REV)],
        verbs: ["get", "patch"],
      },
    ]);
    const job = d.apply.find((o) => o.kind === "Job") as any;
    expect(job.spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining([
        "weights",
        "pull",
        "--revision",
        REV,
        "--report-pvc",
        `team/${weightsName(dsd.spec.model.name, REV)}`,
      ]),
    );
    // The start of the download and the move into Downloading are one Event, not two.
    expect(d.events).toEqual([
      expect.objectContaining({
        reason: "Downloading",
        note: `New → Downloading: pulling deepseek-ai/DeepSeek-V4-Flash@${REV} into PVC ${weightsName(dsd.spec.model.name, REV)}`,
      }),
    ]);
  });

  it("reports a download restarted while already Downloading as WeightsDownloadStarted, but not a Job the cache has yet to see", () => {
    const dsd = aDsd();
    const first = decide(world(dsd, { pvc: aPvc(dsd) }));
    // Right after the Job was created, before the downloader reported: the same Job, nothing new to tell.
    const lagging = decide(world({ ...dsd, status: first.status! }, { pvc: aPvc(dsd) }));
    expect(lagging.apply.some((o) => o.kind === "Job")).toBe(true);
    expect(lagging.events).toEqual([]);
    // The Job went away after the downloader had reported: a restart.
    const d = decide(
      world({ ...dsd, status: first.status! }, { pvc: aPvc(dsd, progress({ bytesDone: 370, bytesTotal: 1000 })) }),
    );
    expect(d.events.map((e) => e.reason)).toEqual(["WeightsDownloadStarted"]);
  });
});

describe("weights progress", () => {
  it("mirrors the downloader's report into status", () => {
    const dsd = aDsd();
    const d = decide(
      world(dsd, {
        pvc: aPvc(
          dsd,
          progress({ bytesDone: 370, bytesTotal: 1000, filesDone: 17, bytesPerSecond: 50, etaSeconds: 12.6 }),
        ),
        pullJob: aJob("x", { active: 1 }),
      }),
    );
    expect(d.status?.weights).toMatchObject({
      phase: "Downloading",
      progress: "37%",
      bytesDone: 370,
      bytesTotal: 1000,
      filesDone: 17,
      filesTotal: 47,
      bytesPerSecond: 50,
      etaSeconds: 13,
      eta: "13s",
      verified: false,
    });
    expect(d.apply.filter((o) => o.kind !== "Service")).toEqual([]);
  });

  it("writes the ETA as a duration for the printer column, next to the seconds", () => {
    const dsd = aDsd();
    const d = decide(
      world(dsd, {
        pvc: aPvc(dsd, progress({ bytesDone: 100, bytesTotal: 1000, etaSeconds: 3900 })),
        pullJob: aJob("x", { active: 1 }),
      }),
    );
    expect(d.status?.weights).toMatchObject({ etaSeconds: 3900, eta: "1h5m" });
  });

  it("creates no engine before the weights are verified, even at 100% of bytes", () => {
    const dsd = aDsd();
    const d = decide(
      world(dsd, {
        pvc: aPvc(dsd, progress({ phase: "Verifying", bytesDone: 1000, bytesTotal: 1000 })),
        pullJob: aJob("x", { active: 1 }),
      }),
    );
    expect(kinds(d.apply)).not.toContain("Deployment");
    expect(cond(d, "WeightsReady")?.status).toBe("False");
  });

  it("schedules a retry after a failure and retries once the delay has passed", () => {
    const dsd = aDsd();
    const failedAt = new Date(NOW.getTime() - 10_000).toISOString();
    const job = aJob("x", {
      failed: 1,
      conditions: [{ type: "Failed", status: "True", lastTransitionTime: failedAt, message: "BackoffLimitExceeded" }],
    });
    const pvc = aPvc(dsd, progress({ phase: "Failed", reason: "NetworkError", message: "connection reset 5 times" }));
    const early = decide(world(dsd, { pvc, pullJob: job }));
    expect(early.delete).toEqual([]);
    expect(early.requeueAfterMs).toBe(20_000); // 30 s after the first failure
    expect(early.status?.weights).toMatchObject({ phase: "Failed", reason: "NetworkError" });
    expect(early.status?.phase).toBe("Downloading");
    const later = decide(world(dsd, { pvc, pullJob: job, now: new Date(NOW.getTime() + 30_000) }));
    expect(later.delete.map((r) => r.kind)).toEqual(["Job"]);
    const pvcApply = later.apply.find((o) => o.kind === "PersistentVolumeClaim")!;
    expect(pvcApply.metadata.annotations!["serving.deepseek-operator.io/weights-attempts"]).toBe("1");
  });

  it("fails the deployment on a 401 and says why", () => {
    const dsd = aDsd();
    const job = aJob("x", {
      failed: 1,
      conditions: [
        { type: "Failed", status: "True", lastTransitionTime: NOW.toISOString(), message: "PodFailurePolicy" },
      ],
    });
    const d = decide(
      world(dsd, {
        pvc: aPvc(
          dsd,
          progress({
            phase: "Failed",
            reason: "Unauthorized",
            message: "401 from the Hub: check spec.model.source.huggingFace.tokenSecretRef",
          }),
        ),
        pullJob: job,
      }),
    );
    expect(d.status?.phase).toBe("Failed");
    expect(cond(d, "WeightsReady")).toMatchObject({ status: "False", reason: "Unauthorized" });
    expect(cond(d, "WeightsReady")?.message).toContain("tokenSecretRef");
    expect(d.events.find((e) => e.type === "Warning" && e.reason === "Unauthorized")).toBeDefined();
  });
});

describe("serving", () => {
  const dsd = aDsd("flash", { gpu: { type: "H200" }, replicas: 2 });
  const expected = runPlanner(planInputFromSpec(dsd.spec));

  it("renders the engine with the planned GPUs once the weights are verified", () => {
    const d = decide(world(dsd, { pvc: aPvc(dsd, verified()) }));
    expect(kinds(d.apply)).toEqual(["Deployment", "PodDisruptionBudget", "Service"]);
    const deploy = d.apply.find((o) => o.kind === "Deployment") as any;
    expect(deploy.spec.replicas).toBe(2);
    const c = deploy.spec.template.spec.containers[0];
    expect(c.resources.limits["nvidia.com/gpu"]).toBe(String(expected.gpusPerReplica));
    expect(c.command).toEqual(expect.arrayContaining(expected.engineArgs));
    expect(deploy.spec.template.spec.nodeSelector).toEqual(expected.nodeSelector);
    expect(deploy.metadata.ownerReferences[0]).toMatchObject({ kind: "DeepSeekDeployment", controller: true });
    expect(d.status).toMatchObject({ phase: "Loading", gpus: 2 * expected.gpusPerReplica, desiredReplicas: 2 });
  });

  it("replaces one replica at a time when no spare GPUs are known, and surges when they are", () => {
    const tight = decide(
      world(dsd, {
        pvc: aPvc(dsd, verified()),
        gpus: { gpuType: "H200", nodes: 2, total: 16, free: 0, largestFreeBlock: 0 },
      }),
    );
    expect((tight.apply.find((o) => o.kind === "Deployment") as any).spec.strategy.rollingUpdate).toEqual({
      maxSurge: 0,
      maxUnavailable: 1,
    });
    const roomy = decide(
      world(dsd, {
        pvc: aPvc(dsd, verified()),
        gpus: { gpuType: "H200", nodes: 2, total: 16, free: 8, largestFreeBlock: 8 },
      }),
    );
    expect((roomy.apply.find((o) => o.kind === "Deployment") as any).spec.strategy.rollingUpdate).toEqual({
      maxSurge: 1,
      maxUnavailable: 0,
    });
  });

  it("reaches Serving, then makes no writes while nothing changes", () => {
    const first = decide(world(dsd, { pvc: aPvc(dsd, verified()) }));
    const state = {
      pvc: aPvc(dsd, verified()),
      deployment: live(first.apply, "Deployment", { replicas: 2, readyReplicas: 2, updatedReplicas: 2 }),
      service: live(first.apply, "Service"),
      pdb: live(first.apply, "PodDisruptionBudget"),
    };
    const serving = decide(world(dsd, state));
    expect(serving.status?.phase).toBe("Serving");
    expect(cond(serving, "Ready")?.status).toBe("True");
    const steady = decide(
      world({ ...dsd, status: serving.status! }, { ...state, now: new Date(NOW.getTime() + 60_000) }),
    );
    expect(steady.apply).toEqual([]);
    expect(steady.delete).toEqual([]);
    expect(steady.status).toBeUndefined();
    expect(steady.events).toEqual([]);
  });

  it("leaves the autoscaler's status fields to the autoscaler: neither sends them nor rewrites status over them", () => {
    const first = decide(world(dsd, { pvc: aPvc(dsd, verified()) }));
    const state = {
      pvc: aPvc(dsd, verified()),
      deployment: live(first.apply, "Deployment", { replicas: 2, readyReplicas: 2, updatedReplicas: 2 }),
      service: live(first.apply, "Service"),
      pdb: live(first.apply, "PodDisruptionBudget"),
    };
    const serving = decide(world(dsd, state));
    const byAutoscaler = {
      ...serving.status!,
      metrics: { queueDepth: 7, tokensPerSecond: 900, sampledAt: "2026-11-28T12:00:30Z" },
      autoscaling: { desiredReplicas: 3, reason: "scale up: 7 waiting" },
      lastScaleTime: "2026-11-28T12:00:30Z",
      lastScaleReason: "scale up: 7 waiting",
    };
    const next = decide(world({ ...dsd, status: byAutoscaler }, { ...state, now: new Date(NOW.getTime() + 60_000) }));
    expect(next.status).toBeUndefined();
    expect(serving.status).not.toHaveProperty("metrics");
    expect(serving.status).not.toHaveProperty("lastScaleTime");
  });

  it("renders the HPA for mode HPA and removes it for mode None", () => {
    const hpaDsd = aDsd("flash", { replicas: 2, autoscaling: { mode: "HPA", minReplicas: 1, maxReplicas: 4 } });
    const withHpa = decide(world(hpaDsd, { pvc: aPvc(hpaDsd, verified()) }));
    const hpa = withHpa.apply.find((o) => o.kind === "HorizontalPodAutoscaler");
    expect(hpa).toBeDefined();
    const none = decide(world(dsd, { pvc: aPvc(dsd, verified()), hpa: hpa }));
    expect(none.delete).toContainEqual({
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      namespace: "team",
      name: "flash",
    });
  });

  it("restores a hand-edited Deployment", () => {
    const first = decide(world(dsd, { pvc: aPvc(dsd, verified()) }));
    const edited = live(first.apply, "Deployment") as any;
    edited.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"] = "1";
    const d = decide(
      world(dsd, {
        pvc: aPvc(dsd, verified()),
        deployment: edited,
        service: live(first.apply, "Service"),
        pdb: live(first.apply, "PodDisruptionBudget"),
      }),
    );
    expect(kinds(d.apply)).toEqual(["Deployment"]);
  });

  it("explains Pending pods with GPU counts", () => {
    const pending = aPod("flash-1", {
      phase: "Pending",
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: "0/6 nodes are available: 2 Insufficient nvidia.com/gpu.",
        },
      ],
    });
    const d = decide(
      world(dsd, {
        pvc: aPvc(dsd, verified()),
        pods: [pending],
        gpus: { gpuType: "H200", nodes: 2, total: 16, free: 4, largestFreeBlock: 2 },
      }),
    );
    const c = cond(d, "GPUsAvailable");
    expect(c).toMatchObject({ status: "False", reason: "InsufficientGPUs" });
    expect(c?.message).toContain(`needs ${expected.gpusPerReplica} × H200`);
    expect(c?.message).toContain("16 H200 GPUs on 2 nodes, 4 free");
    expect(c?.message).toContain("Insufficient nvidia.com/gpu");
  });

  it("shows an engine pod in CrashLoopBackOff as Degraded, naming the pod and the kubelet's message", () => {
    const crashing = aPod("flash-1", {
      phase: "Running",
      containerStatuses: [
        {
          ready: false,
          restartCount: 6,
          state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 2m40s restarting failed container" } },
        },
      ],
    });
    const d = decide(world(dsd, { pvc: aPvc(dsd, verified()), pods: [crashing] }));
    expect(d.status?.phase).toBe("Degraded");
    const why = d.status?.conditions?.find((c) => c.reason === "CrashLoop");
    expect(why?.message).toContain("flash-1");
    expect(why?.message).toContain("back-off 2m40s restarting failed container");
    expect(why?.message).toContain("restarts: 6");
  });

  it("keeps lastTransitionTime when a condition's status does not change", () => {
    const a = decide(world(dsd, { pvc: aPvc(dsd, verified()) }));
    const b = decide(
      world({ ...dsd, status: a.status! }, { pvc: aPvc(dsd, verified()), now: new Date(NOW.getTime() + 3_600_000) }),
    );
    expect(b.status).toBeUndefined();
  });
});

describe("plans that cannot run", () => {
  it("refuses an infeasible plan with the numbers and creates nothing", () => {
    const dsd = aDsd("flash", { gpu: { type: "MI300X" }, engine: { type: "vllm" } });
    const d = decide(world(dsd));
    expect(d.apply).toEqual([]);
    expect(d.status?.phase).toBe("Failed");
    expect(cond(d, "PlanValid")?.status).toBe("False");
    expect(d.events.some((e) => e.type === "Warning")).toBe(true);
  });

  it("says so when a multi-node replica needs LeaderWorkerSet and the CRD is missing", () => {
    const dsd = aDsd("flash", {
      gpu: { type: "H100", count: 16 },
      parallelism: { data: 16, expert: true, nodesPerReplica: 2 },
      context: { targetConcurrency: 16 },
    });
    const d = decide(world(dsd, { pvc: aPvc(dsd, verified()), lwsServed: false }));
    expect(kinds(d.apply)).not.toContain("LeaderWorkerSet");
    expect(cond(d, "Progressing")).toMatchObject({ status: "False", reason: "MissingAPI" });
    const withLws = decide(world(dsd, { pvc: aPvc(dsd, verified()), lwsServed: true }));
    const lws = withLws.apply.find((o) => o.kind === "LeaderWorkerSet") as any;
    expect(lws.spec.leaderWorkerTemplate.size).toBe(2);
  });
});

describe("deletion", () => {
  const deleting = (policy: "Retain" | "Delete") =>
    aDsd("flash", { weights: { reclaimPolicy: policy } }, { deletionTimestamp: NOW.toISOString() });

  it("releases a retained PVC from this owner, then removes the finalizer", () => {
    const dsd = deleting("Retain");
    const other = aDsd("other");
    const d = decide(world(dsd, { pvc: aPvc(dsd, verified(), [dsd, other]), sharingWeights: [dsd, other] }));
    const pvc = d.apply.find((o) => o.kind === "PersistentVolumeClaim")!;
    expect(pvc.metadata.ownerReferences!.map((r) => r.name)).toEqual(["other"]);
    expect((pvc as any).spec.resources.requests.storage).toBe("164Gi");
    expect(d.finalizer).toBe("remove");
  });

  it("drops references to deployments that are already gone, so a stale view cannot leave the PVC to the garbage collector", () => {
    // A concurrent reconcile applied owners [gone, flash] from a stale cache; "gone" no longer exists.
    const dsd = deleting("Retain");
    const gone = aDsd("gone");
    const pvc = aPvc(dsd, verified(), [gone, dsd]);
    (pvc.metadata as { resourceVersion?: string }).resourceVersion = "42";
    const d = decide(world(dsd, { pvc, sharingWeights: [dsd] }));
    const applied = d.apply.find((o) => o.kind === "PersistentVolumeClaim")!;
    expect(applied.metadata.ownerReferences).toEqual([]);
    expect((applied.metadata as { resourceVersion?: string }).resourceVersion).toBe("42");
    expect(d.finalizer).toBe("remove");
  });

  it("releases the PVC even when the deployment is already gone from a fresh read", () => {
    // A second finalize from a stale cache: the apiserver no longer lists this deployment.
    const dsd = deleting("Retain");
    const d = decide(world(dsd, { pvc: aPvc(dsd, verified(), [dsd]), sharingWeights: [] }));
    expect(d.apply.find((o) => o.kind === "PersistentVolumeClaim")!.metadata.ownerReferences).toEqual([]);
    expect(d.finalizer).toBe("remove");
  });

  it("leaves the owner reference under Delete so the garbage collector removes the PVC after the last user", () => {
    const dsd = deleting("Delete");
    const d = decide(world(dsd, { pvc: aPvc(dsd, verified()) }));
    expect(d.apply).toEqual([]);
    expect(d.finalizer).toBe("remove");
  });

  it("does nothing without its finalizer", () => {
    const dsd = { ...deleting("Retain"), metadata: { ...deleting("Retain").metadata, finalizers: [] } };
    expect(decide(world(dsd, { pvc: aPvc(dsd) }))).toEqual({ apply: [], delete: [], events: [] });
    expect(FINALIZER).toBe("serving.deepseek-operator.io/finalizer");
  });
});
