// ApplyClient against the loopback fake apiserver: what goes on the wire is exactly the object given.
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { ApplyClient } from "./apply.ts";
import { KindNotServedError, isConflict, isInvalid, isKindNotServed } from "./errors.ts";
import { CORE_RESOURCES, FakeApiServer } from "./fakeapiserver.ts";
import { OperatorMetrics } from "./metrics.ts";
import { LeadershipLostError } from "./fence.ts";

const DSD = {
  group: "serving.deepseek-operator.io",
  version: "v1alpha1",
  kind: "DeepSeekDeployment",
  plural: "deepseekdeployments",
  namespaced: true,
};

let server: FakeApiServer;
let metrics: OperatorMetrics;
let client: ApplyClient;
beforeEach(async () => {
  server = await new FakeApiServer([...CORE_RESOURCES, DSD]).start();
  metrics = new OperatorMetrics({ processMetrics: false });
  client = new ApplyClient(server.kubeConfig(), { metrics });
});
afterEach(async () => {
  await server.stop();
});

function deployment(): KubernetesObject & Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "engine", namespace: "team-a", labels: { "app.kubernetes.io/part-of": "deepseek-operator" } },
    spec: {
      replicas: 2,
      unknownField: "a typo the apiserver must see", // client-node's typed serializer would drop this
      selector: { matchLabels: { app: "engine" } },
      template: {
        metadata: { labels: { app: "engine" } },
        spec: { containers: [{ name: "vllm", image: "vllm/vllm-openai:v0" }] },
      },
    },
  };
}

async function writes(): Promise<string[]> {
  const m = await metrics.registry.getSingleMetric("deepseek_operator_api_writes_total")!.get();
  return m.values.map((v) => `${v.labels.verb}/${v.labels.kind}=${v.value}`).sort();
}

describe("ApplyClient.apply", () => {
  it("sends the object byte-for-byte as server-side apply with fieldManager, force and strict validation", async () => {
    const obj = deployment();
    const before = JSON.stringify(obj);
    const out = await client.apply(obj);
    const req = server.requestsTo("PATCH", "/apis/apps/v1/namespaces/team-a/deployments/engine")[0]!;
    expect(req.headers["content-type"]).toBe("application/apply-patch+yaml");
    expect(req.body).toBe(before);
    expect(Object.fromEntries(req.query)).toEqual({
      fieldManager: "deepseek-operator",
      force: "true",
      fieldValidation: "Strict",
    });
    expect(JSON.stringify(obj)).toBe(before); // the caller's object is not touched
    // The response is plain JSON too: no Date objects.
    expect(typeof out.metadata!.resourceVersion).toBe("string");
    expect((out as { spec: { unknownField?: string } }).spec.unknownField).toBeDefined();
    expect(await writes()).toEqual(["apply/Deployment=1"]);
  });

  it("shows why: client-node's KubernetesObjectApi.patch drops the unknown field of a built-in kind", async () => {
    const api = KubernetesObjectApi.makeApiClient(server.kubeConfig());
    await api.patch(deployment(), undefined, undefined, "x", true, PatchStrategy.ServerSideApply);
    const req = server.requestsTo("PATCH", "/apis/apps/v1/namespaces/team-a/deployments/engine")[0]!;
    expect(req.json.spec.unknownField).toBeUndefined();
  });

  it("honours per-call options (field manager, no force, Warn validation, dry run)", async () => {
    await client.apply(deployment(), { fieldManager: "other", force: false, fieldValidation: "Warn", dryRun: true });
    const req = server.requestsTo("PATCH", "/apis/apps/v1/")[0]!;
    expect(Object.fromEntries(req.query)).toEqual({
      fieldManager: "other",
      force: "false",
      fieldValidation: "Warn",
      dryRun: "All",
    });
  });

  it("wraps API errors with verb, kind, namespace/name and HTTP code", async () => {
    server.override((req, res) => {
      if (req.method !== "PATCH") return false;
      res.writeHead(422, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "Status",
          code: 422,
          reason: "Invalid",
          message: 'Deployment.apps "engine" is invalid: spec.replicas: Invalid value: -1',
        }),
      );
      return true;
    });
    const err = await client.apply(deployment()).catch((e: unknown) => e);
    expect(isInvalid(err)).toBe(true);
    expect(String(err)).toContain('apply Deployment team-a/engine: HTTP 422: Deployment.apps "engine" is invalid');
  });

  it("reports a kind the server does not serve (LeaderWorkerSet CRD absent) as KindNotServedError", async () => {
    const lws = {
      apiVersion: "leaderworkerset.x-k8s.io/v1",
      kind: "LeaderWorkerSet",
      metadata: { name: "engine", namespace: "team-a" },
      spec: {},
    };
    const err = await client.apply(lws).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KindNotServedError);
    expect(isKindNotServed(err)).toBe(true);
    expect(String(err)).toMatch(/does not serve leaderworkerset.x-k8s.io\/v1 LeaderWorkerSet/);
    expect(await client.get(lws).catch((e: unknown) => e)).toBeInstanceOf(KindNotServedError);
  });

  it("rejects objects without apiVersion, kind or name before sending anything", async () => {
    await expect(client.apply({ kind: "Deployment", metadata: { name: "x" } })).rejects.toThrow(
      /apiVersion, kind and metadata.name are required/,
    );
    expect(server.requests).toHaveLength(0);
  });
});

describe("ApplyClient status, get, list, patch, delete", () => {
  const cr = {
    apiVersion: "serving.deepseek-operator.io/v1alpha1",
    kind: "DeepSeekDeployment",
    metadata: { name: "flash", namespace: "team-a" },
    spec: { model: "deepseek-ai/DeepSeek-V4-Flash" },
  };

  it("applyStatus sends only identity + status to the /status subresource", async () => {
    server.put(cr);
    await client.applyStatus({
      ...cr,
      metadata: { ...cr.metadata, resourceVersion: "1", labels: { a: "b" } },
      status: { phase: "Downloading", observedGeneration: 1 },
    });
    const req = server.requestsTo(
      "PATCH",
      "/apis/serving.deepseek-operator.io/v1alpha1/namespaces/team-a/deepseekdeployments/flash/status",
    )[0]!;
    expect(req.json).toEqual({
      apiVersion: "serving.deepseek-operator.io/v1alpha1",
      kind: "DeepSeekDeployment",
      metadata: { name: "flash", namespace: "team-a" },
      status: { phase: "Downloading", observedGeneration: 1 },
    });
    expect(req.headers["content-type"]).toBe("application/apply-patch+yaml");
    expect(req.query.get("fieldManager")).toBe("deepseek-operator");
    expect(await writes()).toEqual(["status/DeepSeekDeployment=1"]);
  });

  it("get returns plain JSON, or undefined when absent", async () => {
    server.put({ ...cr, metadata: { ...cr.metadata, creationTimestamp: "2026-01-01T00:00:00Z" } });
    const got = await client.get(cr);
    // client-node's typings say Date; on the wire, and therefore here, it is the apiserver's string.
    expect(got!.metadata!.creationTimestamp as unknown).toBe("2026-01-01T00:00:00Z");
    expect(await client.get({ ...cr, metadata: { name: "nope", namespace: "team-a" } })).toBeUndefined();
    expect(await writes()).toEqual([]);
  });

  it("list and listPath pass selectors and return plain JSON", async () => {
    server.put(cr);
    const list = await client.list("serving.deepseek-operator.io/v1alpha1", "DeepSeekDeployment", {
      namespace: "team-a",
      labelSelector: "a=b",
    });
    expect(list.items.map((o) => o.metadata!.name)).toEqual(["flash"]);
    const req = server
      .requestsTo("GET", "/apis/serving.deepseek-operator.io/v1alpha1/namespaces/team-a/deepseekdeployments")
      .at(-1)!;
    expect(req.query.get("labelSelector")).toBe("a=b");
    expect(req.query.has("limit")).toBe(false);
    await client
      .listPath("/api/v1/pods", { fieldSelector: "status.phase!=Failed", limit: 500, continue: "tok" })
      .catch(() => undefined); // the fake apiserver, like the real one, refuses a token it did not issue
    const page = server.requestsTo("GET", "/api/v1/pods").at(-1)!;
    expect([page.query.get("limit"), page.query.get("continue"), page.query.get("fieldSelector")]).toEqual([
      "500",
      "tok",
      "status.phase!=Failed",
    ]);
  });

  it("patch sends a merge patch (optionally to a subresource)", async () => {
    server.put(cr);
    await client.patch(cr, { metadata: { finalizers: null } }, "merge");
    const req = server.requestsTo("PATCH", "/apis/serving.deepseek-operator.io/")[0]!;
    expect(req.headers["content-type"]).toBe("application/merge-patch+json");
    expect(req.body).toBe('{"metadata":{"finalizers":null}}');
  });

  it("delete sends DeleteOptions and reports whether the object existed", async () => {
    server.put(cr);
    expect(await client.delete(cr, { propagationPolicy: "Foreground", preconditions: { uid: "uid-flash" } })).toBe(
      true,
    );
    expect(await client.delete(cr)).toBe(false);
    const req = server.requestsTo("DELETE", "/apis/serving.deepseek-operator.io/")[0]!;
    expect(req.json).toEqual({
      apiVersion: "v1",
      kind: "DeleteOptions",
      propagationPolicy: "Foreground",
      preconditions: { uid: "uid-flash" },
    });
    expect(await writes()).toEqual(["delete/DeepSeekDeployment=2"]);
  });

  it("a conflict surfaces as isConflict", async () => {
    server.override((req, res) => {
      if (req.method !== "PATCH") return false;
      res.writeHead(409, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ kind: "Status", code: 409, reason: "Conflict", message: "Apply failed with 1 conflict" }),
      );
      return true;
    });
    expect(isConflict(await client.apply(cr).catch((e: unknown) => e))).toBe(true);
  });
});

const ENGINE = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "engine", namespace: "team-a" } };

describe("ApplyClient with a write fence", () => {
  it("sends no write once the fence is closed, aborts writes in flight, and still reads", async () => {
    let open = true;
    const lost = new AbortController();
    client.setFence({
      signal: lost.signal,
      check: () => {
        if (!open) throw new LeadershipLostError("not the leader");
      },
    });
    await client.apply(deployment());
    // A write the apiserver has not answered when leadership ends is aborted, not left to land later.
    let held: (() => void) | undefined;
    server.override(async (req) => {
      if (req.method !== "PATCH") return false;
      await new Promise<void>((r) => (held = r));
      return false;
    });
    const inFlight = client.apply(deployment());
    while (!held) await new Promise((r) => setTimeout(r, 5));
    lost.abort(new LeadershipLostError("lease lost"));
    await expect(inFlight).rejects.toThrow(/lease lost|aborted/i);
    held();
    open = false;
    const patches = server.requestsTo("PATCH", "/apis/apps/v1/namespaces/team-a/deployments/engine").length;
    await expect(client.apply(deployment())).rejects.toBeInstanceOf(LeadershipLostError);
    await expect(
      client.patch(ENGINE, [{ op: "test", path: "/metadata/name", value: "engine" }], "json"),
    ).rejects.toBeInstanceOf(LeadershipLostError);
    await expect(client.delete(ENGINE)).rejects.toBeInstanceOf(LeadershipLostError);
    expect(server.requestsTo("PATCH", "/apis/apps/v1").length).toBe(patches);
    expect(server.requestsTo("DELETE", "/apis/apps/v1").length).toBe(0);
    expect(await client.get(ENGINE)).toBeDefined();
  });

  it("checks the fence again when the request reaches its connection, and sends nothing if it closed meanwhile", async () => {
    // Open for the check before the request is built, closed by the time undici writes it (a process frozen
    // in between, resumed after the lease was lost).
    let checks = 0;
    client.setFence({
      signal: new AbortController().signal,
      check: () => {
        if (++checks > 1) throw new LeadershipLostError("lease lost while the request waited for a connection");
      },
    });
    await expect(client.apply(deployment())).rejects.toThrow(/apply Deployment team-a\/engine/);
    expect(checks).toBe(2);
    expect(server.requestsTo("PATCH", "/apis/apps/v1")).toHaveLength(0);
  });
});
