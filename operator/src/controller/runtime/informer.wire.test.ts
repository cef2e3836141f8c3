// The real client-node 2.x Watch + ListWatch against a loopback fake apiserver: proves that a 410 ERROR event
// makes client-node relist (a LIST without resourceVersion, then a watch from the new one), that an HTTP error
// stops client-node and the supervisor restarts it, and that a 410-forever server is capped.
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { Watch, type KubernetesObject } from "@kubernetes/client-node";
import { ApplyClient } from "./apply.ts";
import { FakeApiServer } from "./fakeapiserver.ts";
import { Informer, resourcePath, type InformerEventType } from "./informer.ts";
import { OperatorMetrics } from "./metrics.ts";
import { FakeClock, advanceUntil } from "./testing.ts";

const COLLECTION = resourcePath({ version: "v1", plural: "configmaps", namespace: "ns" });

function cm(name: string): KubernetesObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ns" } };
}

let server: FakeApiServer;
beforeEach(async () => {
  server = await new FakeApiServer().start();
});
afterEach(async () => {
  await server.stop();
});

function newInformer(clock: FakeClock, maxConsecutiveGone = 3, pageSize?: number) {
  const kc = server.kubeConfig();
  const metrics = new OperatorMetrics({ processMetrics: false });
  const client = new ApplyClient(kc, { metrics });
  const informer = new Informer<KubernetesObject>({
    name: "configmaps",
    path: COLLECTION,
    list: (opts) => client.listPath(COLLECTION, opts),
    watch: new Watch(kc),
    labelSelector: "app=dsd",
    clock,
    metrics,
    resyncPeriodMs: 0,
    maxConsecutiveGone,
    ...(pageSize !== undefined ? { pageSize } : {}),
  });
  const events: Array<[InformerEventType, string]> = [];
  informer.addHandler((o, type) => events.push([type, o.metadata!.name!]));
  const restarts = async (reason: string) =>
    (await metrics.registry.getSingleMetric("deepseek_operator_informer_restarts_total")!.get()).values.find(
      (v) => v.labels.reason === reason,
    )?.value ?? 0;
  return { informer, events, restarts };
}

const lists = () =>
  server.requests.filter((r) => r.path === COLLECTION && r.method === "GET" && r.query.get("watch") !== "true");
const watches = () => server.requests.filter((r) => r.path === COLLECTION && r.query.get("watch") === "true");

describe("Informer over client-node 2.x against a loopback apiserver", () => {
  it("relists after a 410 ERROR event, then restarts after an HTTP 500 stopped client-node", async () => {
    server.put(cm("a"));
    server.put(cm("b"));
    const listRv1 = String(server.rv);
    server.scriptWatch(
      COLLECTION,
      (s) => {
        s.send("ADDED", server.put(cm("c")));
        server.remove(COLLECTION, "b"); // deleted while the informer is about to lose its watch
        s.send("ERROR", {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "Expired",
          code: 410,
          message: "too old resource version",
        });
        s.close();
      },
      (s) => s.fail(500, "InternalError"),
    );
    const clock = new FakeClock();
    const t = newInformer(clock);
    t.informer.start();
    await advanceUntil(clock, () => watches().length >= 2);

    // client-node's relist: a plain LIST, then a watch from the new list's resourceVersion.
    expect(lists()).toHaveLength(2);
    expect(lists()[1]!.query.get("resourceVersion")).toBeNull();
    expect(lists()[0]!.query.get("labelSelector")).toBe("app=dsd");
    expect(watches()[0]!.query.get("resourceVersion")).toBe(listRv1);
    expect(watches()[1]!.query.get("resourceVersion")).toBe(String(server.rv));
    expect(t.events).toContainEqual(["add", "c"]);
    expect(t.events).toContainEqual(["delete", "b"]);
    expect(
      t.informer
        .list()
        .map((o) => o.metadata!.name)
        .sort(),
    ).toEqual(["a", "c"]);
    // Listed items (the apiserver leaves out their apiVersion/kind) look like watched ones in the cache.
    expect(t.informer.get("ns", "a")).toMatchObject({ apiVersion: "v1", kind: "ConfigMap" });

    // The second watch got HTTP 500: client-node fired `error` and stopped; the supervisor restarts it.
    await advanceUntil(clock, () => watches().length >= 3);
    expect(await t.restarts("error")).toBe(1);
    expect(lists()).toHaveLength(3);
    expect(watches()[2]!.headers.authorization).toBe("Bearer test-token");
    t.informer.stop();
  });

  it("a server that answers 410 forever is relisted by client-node, then restarted from scratch by the supervisor", async () => {
    server.put(cm("a"));
    const gone = (s: { send: (t: string, o: unknown) => void; close: () => void }) => {
      s.send("ERROR", { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410 });
      s.close();
    };
    server.scriptWatch(COLLECTION, gone, gone, gone, gone, gone, gone);
    const clock = new FakeClock();
    const t = newInformer(clock, 2);
    t.informer.start();
    await advanceUntil(clock, async () => (await t.restarts("gone")) >= 1 && watches().length >= 4, 250);
    expect(t.informer.health().downForMs).toBeGreaterThan(0);
    // Every relist was a fresh LIST without resourceVersion.
    expect(lists().every((r) => r.query.get("resourceVersion") === null)).toBe(true);
    t.informer.stop();
  });

  it("lists in pages (limit + continue) and watches from the snapshot's resourceVersion", async () => {
    for (const n of ["a", "b", "c", "d", "e"]) server.put(cm(n));
    const snapshot = String(server.rv);
    const clock = new FakeClock();
    const t = newInformer(clock, 3, 2);
    t.informer.start();
    await advanceUntil(clock, () => watches().length >= 1);
    expect(lists().map((r) => r.query.get("limit"))).toEqual(["2", "2", "2"]);
    expect(lists()[0]!.query.get("continue")).toBeNull();
    expect(lists()[1]!.query.get("continue")).toBeTruthy();
    expect(lists()[2]!.query.get("labelSelector")).toBe("app=dsd");
    expect(
      t.informer
        .list()
        .map((o) => o.metadata!.name)
        .sort(),
    ).toEqual(["a", "b", "c", "d", "e"]);
    expect(t.informer.get("ns", "e")).toMatchObject({ apiVersion: "v1", kind: "ConfigMap" });
    expect(watches()[0]!.query.get("resourceVersion")).toBe(snapshot);
    t.informer.stop();
  });

  it("falls back to one full LIST when a continue token has expired (410)", async () => {
    for (const n of ["a", "b", "c"]) server.put(cm(n));
    server.expireContinueTokens = true;
    const clock = new FakeClock();
    const t = newInformer(clock, 3, 2);
    t.informer.start();
    await advanceUntil(clock, () => watches().length >= 1);
    expect(lists().map((r) => [r.query.get("limit"), !!r.query.get("continue")])).toEqual([
      ["2", false],
      ["2", true],
      [null, false],
    ]);
    expect(t.informer.list()).toHaveLength(3);
    expect(t.events.filter(([type]) => type === "add")).toHaveLength(3);
    t.informer.stop();
  });

  it("asks for bookmarks and resumes a recycled watch from the last bookmark, without relisting", async () => {
    server.put(cm("a"));
    server.scriptWatch(COLLECTION, (s) => {
      s.send("BOOKMARK", { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: "5000" } });
      s.close(); // the apiserver ends watches after its timeout; client-node reconnects
    });
    const clock = new FakeClock();
    const t = newInformer(clock);
    t.informer.start();
    await advanceUntil(clock, () => watches().length >= 2);
    expect(watches()[0]!.query.get("allowWatchBookmarks")).toBe("true");
    expect(watches()[1]!.query.get("resourceVersion")).toBe("5000");
    expect(lists()).toHaveLength(1);
    expect(t.informer.list()).toHaveLength(1); // a bookmark is not an object
    t.informer.stop();
  });
});
