// The informer runs the real client-node ListWatch here; only the Watch transport and the list call are fakes,
// so the tests exercise client-node's own 410/relist/stop behaviour together with the supervision around it.
import { describe, expect, it } from "@jest/globals";
import type { KubernetesObject } from "@kubernetes/client-node";
import { Informer, resourcePath, type InformerEventType, type ListOptions, type WatchLike } from "./informer.ts";
import { OperatorMetrics } from "./metrics.ts";
import { FakeClock } from "./testing.ts";

type Obj = KubernetesObject & { metadata: { name: string; namespace: string; resourceVersion: string } };

function obj(name: string, rv: number, ns = "ns"): Obj {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns, resourceVersion: String(rv) } };
}

class FakeStream {
  readonly controller = new AbortController();
  readonly query: Record<string, unknown>;
  readonly #cb: (phase: string, o: any, raw?: any) => void;
  readonly #done: (err: any) => void;
  ended = false;
  constructor(
    query: Record<string, unknown>,
    cb: (phase: string, o: any, raw?: any) => void,
    done: (err: any) => void,
  ) {
    this.query = query;
    this.#cb = cb;
    this.#done = done;
    // Like client-node's Watch: aborting the request ends the stream with an AbortError.
    this.controller.signal.addEventListener("abort", () => this.end(new DOMException("aborted", "AbortError")));
  }
  send(type: string, o: unknown): void {
    if (!this.ended) this.#cb(type, o, { type, object: o });
  }
  end(err: unknown = null): void {
    if (this.ended) return;
    this.ended = true;
    this.#done(err);
  }
}

class FakeWatch implements WatchLike {
  streams: FakeStream[] = [];
  async watch(
    _path: string,
    query: Record<string, unknown>,
    cb: (phase: string, o: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    const s = new FakeStream(query, cb, done);
    this.streams.push(s);
    return s.controller;
  }
  get last(): FakeStream {
    return this.streams[this.streams.length - 1]!;
  }
}

/** A list endpoint over a mutable set of objects, with scriptable failures and hangs. */
class FakeList {
  items: Obj[] = [];
  rv = 100;
  calls: ListOptions[] = [];
  failNext: Array<Error & { statusCode?: number }> = [];
  hang = false;
  fn = async (opts: ListOptions) => {
    this.calls.push(opts);
    if (this.hang) return new Promise<never>(() => {});
    const err = this.failNext.shift();
    if (err) throw err;
    return { apiVersion: "v1", kind: "List", metadata: { resourceVersion: String(this.rv) }, items: [...this.items] };
  };
}

function httpError(code: number, msg: string): Error & { statusCode: number } {
  return Object.assign(new Error(msg), { statusCode: code });
}

function setup(opts: { resyncPeriodMs?: number; watchdogQuietMs?: number; maxConsecutiveGone?: number } = {}) {
  const clock = new FakeClock();
  const watch = new FakeWatch();
  const list = new FakeList();
  const metrics = new OperatorMetrics({ processMetrics: false });
  const informer = new Informer<Obj>({
    name: "configmaps",
    path: "/api/v1/namespaces/ns/configmaps",
    list: list.fn,
    watch,
    labelSelector: "app=x",
    clock,
    metrics,
    resyncPeriodMs: opts.resyncPeriodMs ?? 0,
    watchdogQuietMs: opts.watchdogQuietMs ?? 60_000,
    maxConsecutiveGone: opts.maxConsecutiveGone,
  });
  const events: Array<[InformerEventType, string]> = [];
  informer.addHandler((o, type) => events.push([type, `${o.metadata.name}@${o.metadata.resourceVersion}`]));
  const restarts = async (reason: string) =>
    (await metrics.registry.getSingleMetric("deepseek_operator_informer_restarts_total")!.get()).values.find(
      (v) => v.labels.reason === reason,
    )?.value ?? 0;
  // The cache syncs inside the list call; the watch opens a few microtasks later.
  const synced = async () => {
    expect(await informer.waitForSync(1000)).toBe(true);
    await clock.advance(0);
  };
  return { clock, watch, list, informer, events, metrics, restarts, synced, settle: () => clock.advance(0) };
}

describe("Informer: list, watch and cache", () => {
  it("lists, syncs, then applies watch events; updates only on a new resourceVersion", async () => {
    const t = setup();
    t.list.items = [obj("a", 1), obj("b", 2)];
    t.informer.start();
    await t.synced();
    expect(t.list.calls[0]).toEqual({ labelSelector: "app=x", fieldSelector: undefined, limit: 500 });
    expect(t.watch.last.query).toMatchObject({
      resourceVersion: "100",
      labelSelector: "app=x",
      allowWatchBookmarks: true,
    });
    t.watch.last.send("MODIFIED", obj("a", 1)); // same RV: no event
    t.watch.last.send("MODIFIED", obj("a", 3));
    t.watch.last.send("ADDED", obj("c", 4));
    t.watch.last.send("DELETED", obj("b", 5));
    t.watch.last.send("BOOKMARK", { metadata: { resourceVersion: "6" } });
    expect(t.events).toEqual([
      ["add", "a@1"],
      ["add", "b@2"],
      ["update", "a@3"],
      ["add", "c@4"],
      ["delete", "b@5"],
    ]);
    expect(t.informer.get("ns", "a")?.metadata.resourceVersion).toBe("3");
    expect(
      t.informer
        .list("ns")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["a", "c"]);
    expect(t.informer.list("other")).toEqual([]);
    t.informer.stop();
  });

  it("a handler added after sync receives the cached objects; a throwing handler does not break others", async () => {
    const t = setup();
    t.list.items = [obj("a", 1)];
    t.informer.start();
    await t.synced();
    t.informer.addHandler(() => {
      throw new Error("bad handler");
    });
    const late: string[] = [];
    t.informer.addHandler((o) => late.push(o.metadata.name));
    t.watch.last.send("ADDED", obj("b", 2));
    expect(late).toEqual(["a", "b"]);
    expect(t.events.map((e) => e[1])).toEqual(["a@1", "b@2"]);
    t.informer.stop();
  });

  it("waitForSync resolves false when the first list does not complete in time", async () => {
    const t = setup();
    t.list.hang = true;
    t.informer.start();
    const synced = t.informer.waitForSync(5000);
    await t.clock.advance(5000);
    expect(await synced).toBe(false);
    t.informer.stop();
  });
});

describe("Informer: client-node relist on 410", () => {
  it("relists from scratch after a 410 ERROR event and reports objects deleted meanwhile", async () => {
    const t = setup();
    t.list.items = [obj("a", 1), obj("b", 2)];
    t.informer.start();
    await t.synced();
    t.list.items = [obj("a", 7), obj("c", 8)];
    t.list.rv = 200;
    t.watch.last.send("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" });
    t.watch.last.end(null);
    await t.clock.advance(2000); // covers client-node's own reconnect delay
    expect(t.list.calls).toHaveLength(2);
    expect(t.watch.last.query).toMatchObject({ resourceVersion: "200" });
    expect(t.events.slice(2)).toEqual([
      ["delete", "b@2"],
      ["update", "a@7"],
      ["add", "c@8"],
    ]);
    expect(await t.restarts("gone")).toBe(0); // client-node handled it; no restart by the supervisor
    t.informer.stop();
  });

  it("relists after an HTTP 410 on the watch request", async () => {
    const t = setup();
    t.informer.start();
    await t.synced();
    t.watch.last.end(httpError(410, "Gone"));
    await t.clock.advance(2000);
    expect(t.list.calls).toHaveLength(2);
    t.informer.stop();
  });

  it("caps a 410-forever loop: restarts from scratch with backoff and reports the stream down", async () => {
    const t = setup({ maxConsecutiveGone: 2 });
    t.informer.start();
    await t.synced();
    // Every watch, at any resourceVersion, answers 410 at once.
    let rounds = 0;
    while ((await t.restarts("gone")) === 0 && rounds++ < 10) {
      t.watch.last.send("ERROR", { kind: "Status", code: 410 });
      t.watch.last.end(null);
      await t.clock.advance(1500);
    }
    // client-node relisted twice by itself (the budget); the third 410 made the supervisor restart from scratch
    // after its 1 s backoff (inside the last 1.5 s advance): a fourth list from a fresh ListWatch.
    expect(rounds).toBe(3);
    expect(t.list.calls).toHaveLength(4);
    expect(t.watch.last.ended).toBe(false);
    expect(t.informer.health().downForMs).toBe(1500);
    const listsBefore = t.list.calls.length;
    // A healthy event ends the episode.
    t.watch.last.send("ADDED", obj("z", 300));
    expect(t.informer.health().downForMs).toBe(0);
    expect(t.list.calls.length).toBe(listsBefore);
    t.informer.stop();
  });
});

describe("Informer: supervision", () => {
  it("restarts with exponential backoff after client-node stops on an error", async () => {
    const t = setup();
    t.informer.start();
    await t.synced();
    t.watch.last.end(httpError(500, "Internal Server Error")); // client-node fires `error` and stops
    await t.settle();
    expect(await t.restarts("error")).toBe(1);
    await t.clock.advance(999);
    expect(t.list.calls).toHaveLength(1);
    await t.clock.advance(1);
    expect(t.list.calls).toHaveLength(2);
    // Fails again before anything healthy happened: the delay doubles.
    t.watch.last.end(httpError(500, "Internal Server Error"));
    await t.clock.advance(1999);
    expect(t.list.calls).toHaveLength(2);
    await t.clock.advance(1);
    expect(t.list.calls).toHaveLength(3);
    expect(t.informer.health().downForMs).toBe(3000);
    t.watch.last.send("ADDED", obj("x", 101));
    expect(t.informer.health()).toMatchObject({ downForMs: 0, restarts: 2 });
    t.informer.stop();
  });

  it("retries a failing initial list (e.g. 403) until it succeeds", async () => {
    const t = setup();
    t.list.failNext = [httpError(403, "Forbidden"), httpError(403, "Forbidden")];
    t.informer.start();
    await t.settle();
    expect(t.informer.hasSynced()).toBe(false);
    expect(t.informer.health().lastError).toBe("Forbidden");
    await t.clock.advance(1000 + 2000);
    expect(t.informer.hasSynced()).toBe(true);
    expect(t.list.calls).toHaveLength(3);
    t.informer.stop();
  });

  it("the watchdog restarts a stream that went silent (hung list, no connect, no events)", async () => {
    const t = setup({ watchdogQuietMs: 60_000 });
    t.informer.start();
    await t.synced();
    t.list.hang = true;
    // client-node relists after a 410 and the LIST hangs forever: no signal of any kind.
    t.watch.last.end(httpError(410, "Gone"));
    await t.clock.advance(59_000);
    expect(await t.restarts("watchdog")).toBe(0);
    t.list.hang = false;
    await t.clock.advance(3000);
    expect(await t.restarts("watchdog")).toBe(1);
    await t.clock.advance(1000); // restart backoff
    expect(t.watch.streams.at(-1)!.ended).toBe(false);
    expect(t.informer.health().synced).toBe(true);
    t.informer.stop();
  });

  it("does not trip the watchdog on a quiet but healthy stream that client-node recycles", async () => {
    const t = setup({ watchdogQuietMs: 60_000 });
    t.informer.start();
    await t.synced();
    for (let i = 0; i < 10; i++) {
      await t.clock.advance(30_000);
      // client-node's 30 s inactivity timeout: reconnect from the same resourceVersion, no relist.
      t.watch.last.end(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    }
    await t.settle();
    expect(await t.restarts("watchdog")).toBe(0);
    expect(t.list.calls).toHaveLength(1);
    expect(t.watch.streams).toHaveLength(11);
    expect(t.watch.last.query).toMatchObject({ resourceVersion: "100" });
    t.informer.stop();
  });

  it("re-delivers every cached object on each resync period", async () => {
    const t = setup({ resyncPeriodMs: 600_000 });
    t.list.items = [obj("a", 1), obj("b", 2)];
    t.informer.start();
    await t.synced();
    await t.clock.advance(600_000);
    // Keep the stream alive across the long advance.
    expect(t.events.filter((e) => e[0] === "resync").map((e) => e[1])).toEqual(["a@1", "b@2"]);
    await t.clock.advance(600_000);
    expect(t.events.filter((e) => e[0] === "resync")).toHaveLength(4);
    t.informer.stop();
  });

  it("stop() is final: late done callbacks and client-node reconnect delays open nothing new", async () => {
    const t = setup();
    t.informer.start();
    await t.synced();
    const first = t.watch.last;
    first.end(null); // client-node schedules a reconnect
    await t.settle();
    t.informer.stop();
    await t.clock.advance(120_000);
    const streamsAfterStop = t.watch.streams.filter((s) => !s.ended);
    expect(streamsAfterStop).toHaveLength(0);
    expect(await t.restarts("error")).toBe(0);
    expect(t.clock.pendingTimers()).toBe(0);
  });
});

describe("resourcePath", () => {
  it("builds core, grouped, namespaced and cluster-wide paths", () => {
    expect(resourcePath({ version: "v1", plural: "pods", namespace: "a" })).toBe("/api/v1/namespaces/a/pods");
    expect(resourcePath({ group: "apps", version: "v1", plural: "deployments" })).toBe("/apis/apps/v1/deployments");
    expect(
      resourcePath({
        group: "serving.deepseek-operator.io",
        version: "v1alpha1",
        plural: "deepseekdeployments",
        namespace: "x",
      }),
    ).toBe("/apis/serving.deepseek-operator.io/v1alpha1/namespaces/x/deepseekdeployments");
  });
});
