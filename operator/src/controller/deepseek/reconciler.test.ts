import { describe, expect, it } from "@jest/globals";
import type { DeepSeekDeployment } from "../../api/index.ts";
import type { KubeObject } from "../../render/index.ts";
import { rootLogger } from "../../util/log.ts";
import { aDsd, NOW } from "../../reconcile/fixtures.ts";
import type { Caches } from "./observe.ts";
import { reconcileDeepSeekDeployment, writeFailureOf, type Writer } from "./reconciler.ts";
import { KubeApiError } from "../runtime/errors.ts";
import type { DeepSeekDeploymentStatus } from "../../api/index.ts";
import type { Dsd } from "../../render/index.ts";

function cache<T extends { metadata: { name: string; namespace?: string } }>(items: T[] = []) {
  return {
    get: (ns: string | undefined, n: string) => items.find((i) => i.metadata.name === n && i.metadata.namespace === ns),
    list: (ns?: string) => items.filter((i) => !ns || i.metadata.namespace === ns),
  };
}

function fakeWorld(dsds: DeepSeekDeployment[]) {
  const calls: string[] = [];
  /** Each write as [start, end] on a clock that ticks at every start and every end: what overlapped, what waited. */
  const spans = new Map<string, [number, number]>();
  let clock = 0;
  const writer: Writer = {
    async apply(obj) {
      calls.push(`apply ${obj.kind}`);
      const span: [number, number] = [clock++, -1];
      spans.set(obj.kind, span);
      await new Promise((r) => setImmediate(r)); // a round trip: everything sent together is in flight together
      span[1] = clock++;
      return { ...obj, metadata: { ...obj.metadata, uid: `${obj.kind}-uid`, resourceVersion: "1" } } as KubeObject;
    },
    async delete(ref) {
      calls.push(`delete ${ref.kind}`);
    },
    async applyStatus(_d, s) {
      calls.push(`status ${s.phase}`);
    },
    async setFinalizer(_d, present) {
      calls.push(present ? "finalizer +" : "finalizer -");
    },
    async readFresh() {
      return { pvc: undefined, dsds };
    },
    event(_d, e) {
      calls.push(`event ${e.reason}`);
    },
  };
  const caches: Caches = {
    dsds: cache(dsds as never[]),
    pvcs: cache(),
    jobs: cache(),
    deployments: cache(),
    services: cache(),
    pdbs: cache(),
    pods: cache(),
    nodes: cache(),
  } as unknown as Caches;
  const ctx = {
    caches,
    lwsServed: () => false,
    gpuPods: () => undefined,
    jobs: { image: "op:1", podLabels: {}, podAnnotations: {} },
    now: () => NOW,
  };
  return { calls, spans, writer, ctx };
}

describe("reconcile executor", () => {
  it("adds the finalizer first, creates the PVC and, with its uid from the apply, the download Job in the same reconcile", async () => {
    const dsd = aDsd("flash", {}, { finalizers: [], resourceVersion: "7" });
    const w = fakeWorld([dsd]);
    const r = await reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "flash", rootLogger);
    expect(w.calls[0]).toBe("finalizer +");
    const applies = w.calls.filter((c) => c.startsWith("apply"));
    expect([...applies].sort()).toEqual([
      "apply Job",
      "apply PersistentVolumeClaim",
      "apply Role",
      "apply RoleBinding",
      "apply Service",
      "apply ServiceAccount",
    ]);
    // Storage first, identities before the Job that runs as them.
    expect(applies[0]).toBe("apply PersistentVolumeClaim");
    expect(applies.at(-1)).toBe("apply Job");
    // What depends on a write waits for its answer: the identities need the PVC's uid; a RoleBinding
    // sent before its Role exists fails the apiserver's escalation check; a Job's pods need their
    // ServiceAccount.
    const span = (k: string) => w.spans.get(k)!;
    expect(span("ServiceAccount")[0]).toBeGreaterThan(span("PersistentVolumeClaim")[1]);
    expect(span("RoleBinding")[0]).toBeGreaterThan(span("Role")[1]);
    expect(span("Job")[0]).toBeGreaterThan(span("ServiceAccount")[1]);
    // Nothing else waits: the Service goes with the PVC, the Role with the ServiceAccount, the Job with
    // the RoleBinding, so a new deployment costs three round trips.
    expect(span("Service")[0]).toBeLessThan(span("PersistentVolumeClaim")[1]);
    expect(span("Role")[0]).toBeLessThan(span("ServiceAccount")[1]);
    expect(span("Job")[0]).toBeLessThan(span("RoleBinding")[1]);
    // One status write and one phase Event, not one per pass.
    expect(w.calls.filter((c) => c.startsWith("status"))).toEqual(["status Downloading"]);
    expect(w.calls.filter((c) => c.startsWith("event"))).toEqual(["event Downloading"]);
    // Decided once the Job could be rendered, not before: the status write joins the last wave.
    expect(w.calls.indexOf("status Downloading")).toBeGreaterThan(w.calls.indexOf("apply RoleBinding"));
    expect(r.requeueAfterMs).toBeUndefined();
  });

  it("does not repeat a phase change when the cache still shows the status it overwrote", async () => {
    const dsd = aDsd("stale", {}, { resourceVersion: "9" });
    const w = fakeWorld([dsd]);
    await reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "stale", rootLogger);
    const writes = w.calls.filter((c) => c.startsWith("status") || c.startsWith("event Downloading")).length;
    await reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "stale", rootLogger); // same cached object, resourceVersion 9
    expect(w.calls.filter((c) => c.startsWith("status") || c.startsWith("event Downloading")).length).toBe(writes);
  });

  it("puts a refused write into status and an Event with the apiserver's reason, and clears it once writes go through", async () => {
    const dsd = aDsd("quota", {}, { resourceVersion: "3" });
    const w = fakeWorld([dsd]);
    const statuses: DeepSeekDeploymentStatus[] = [];
    const apply = w.writer.apply.bind(w.writer);
    let refuse = true;
    w.writer.apply = async (obj) => {
      if (refuse && obj.kind === "PersistentVolumeClaim")
        throw new KubeApiError("apply", { kind: obj.kind, namespace: "team", name: obj.metadata.name }, 403, {
          kind: "Status",
          reason: "Forbidden",
          message:
            'persistentvolumeclaims "w" is forbidden: exceeded quota: storage, requested: requests.storage=164Gi',
        });
      return apply(obj);
    };
    const applyStatus = w.writer.applyStatus.bind(w.writer);
    w.writer.applyStatus = async (d, s) => {
      statuses.push(s);
      return applyStatus(d, s);
    };
    await expect(reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "quota", rootLogger)).rejects.toThrow(/quota/);
    const failed = statuses.at(-1)!;
    expect(failed.phase).toBe("Degraded");
    const synced = failed.conditions!.find((c) => c.type === "Synced")!;
    expect(synced).toMatchObject({ status: "False", reason: "Forbidden" });
    expect(synced.message).toContain("exceeded quota");
    expect(failed.conditions!.find((c) => c.type === "Degraded")).toMatchObject({
      status: "True",
      reason: "Forbidden",
    });
    expect(w.calls).toContain("event FailedApply");
    // The quota is raised: the next reconcile's status says so, written after the writes went through.
    refuse = false;
    (w.ctx.caches.dsds.list("team")[0] as Dsd).status = failed;
    w.calls.length = 0;
    await reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "quota", rootLogger);
    const cleared = statuses.at(-1)!;
    expect(cleared.conditions!.find((c) => c.type === "Synced")?.status).toBe("True");
    expect(w.calls.indexOf("status Downloading")).toBeGreaterThan(w.calls.lastIndexOf("apply Job"));
  });

  it("does not report conflicts or server errors, which retrying fixes", () => {
    const err = (code: number, reason: string) =>
      new KubeApiError("apply", { kind: "Deployment", namespace: "team", name: "x" }, code, { reason, message: "m" });
    expect(writeFailureOf(err(409, "Conflict"))).toBeUndefined();
    expect(writeFailureOf(err(500, "InternalError"))).toBeUndefined();
    expect(writeFailureOf(err(429, "TooManyRequests"))).toBeUndefined();
    expect(writeFailureOf(err(422, "Invalid"))).toMatchObject({
      reason: "Invalid",
      kind: "Deployment",
      name: "team/x",
    });
  });

  it("does nothing for an object that is gone", async () => {
    const w = fakeWorld([]);
    expect(await reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "nope", rootLogger)).toEqual({});
    expect(w.calls).toEqual([]);
  });

  it("renders no download Job that would send a token where the operator's policy does not allow", async () => {
    const statuses: unknown[] = [];
    for (const endpoint of ["https://attacker.example", "http://huggingface.co"]) {
      const dsd = aDsd("tok", {
        model: {
          revision: "a".repeat(40),
          source: { huggingFace: { endpoint, tokenSecretRef: { name: "other-teams-secret" } } },
        },
      });
      const w = fakeWorld([dsd]);
      w.writer.applyStatus = async (_d, s) => {
        statuses.push(s);
      };
      await reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "tok", rootLogger);
      expect(w.calls.filter((c) => c.startsWith("apply"))).toEqual([]);
      const planValid = (
        statuses.at(-1) as { conditions: { type: string; status: string; message: string }[] }
      ).conditions.find((c) => c.type === "PlanValid")!;
      expect(planValid.status).toBe("False");
      expect(planValid.message).toMatch(
        /^spec\.model\.source\.huggingFace\.endpoint (may not receive a token|must use https)/,
      );
    }
    // The default endpoint, with a token, is fine.
    const ok = aDsd("hf", {
      model: { revision: "a".repeat(40), source: { huggingFace: { tokenSecretRef: { name: "hf" } } } },
    });
    const w = fakeWorld([ok]);
    await reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "hf", rootLogger);
    expect(w.calls).toContain("apply Job");
  });

  it("renders nothing for an engine image outside the administrator's prefixes", async () => {
    const dsd = aDsd("img", {
      engine: { image: "attacker.example/prints-env:1" },
      service: { apiKeySecretRef: { name: "api" } },
    });
    const w = fakeWorld([dsd]);
    let status: { conditions: { type: string; status: string; message: string }[] } | undefined;
    w.writer.applyStatus = async (_d, s) => {
      status = s as typeof status;
    };
    w.ctx.jobs = { ...w.ctx.jobs, allowedImagePrefixes: ["docker.io/vllm/"] } as typeof w.ctx.jobs;
    await reconcileDeepSeekDeployment(w.ctx, w.writer, "team", "img", rootLogger);
    expect(w.calls.filter((c) => c.startsWith("apply"))).toEqual([]);
    expect(status!.conditions.find((c) => c.type === "PlanValid")).toMatchObject({
      status: "False",
      message: expect.stringMatching(/^spec\.engine\.image must start with one of docker\.io\/vllm\//),
    });
    const allowed = fakeWorld([aDsd("img", { engine: { image: "docker.io/vllm/vllm-openai:v1" } })]);
    allowed.ctx.jobs = { ...allowed.ctx.jobs, allowedImagePrefixes: ["docker.io/vllm/"] } as typeof allowed.ctx.jobs;
    await reconcileDeepSeekDeployment(allowed.ctx, allowed.writer, "team", "img", rootLogger);
    expect(allowed.calls).toContain("apply PersistentVolumeClaim");
  });
});
