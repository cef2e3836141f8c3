import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import {
  EventsV1Api,
  type EventsV1Event,
  type EventsV1EventSeries,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { EventRecorder, KubeEventSink, REPORTING_CONTROLLER, truncateUtf8, type EventSink } from "./events.ts";
import { FakeApiServer } from "./fakeapiserver.ts";
import { LeadershipLostError } from "./fence.ts";
import { OperatorMetrics } from "./metrics.ts";
import { FakeClock } from "./testing.ts";

class MemorySink implements EventSink {
  created: Array<{ namespace: string; event: EventsV1Event }> = [];
  patches: Array<{ name: string; series: EventsV1EventSeries }> = [];
  failCreate = 0;
  patchNotFound = false;
  async create(namespace: string, event: EventsV1Event): Promise<void> {
    if (this.failCreate > 0) {
      this.failCreate--;
      throw new Error("apiserver unavailable");
    }
    this.created.push({ namespace, event });
  }
  async patchSeries(_ns: string, name: string, series: EventsV1EventSeries): Promise<void> {
    if (this.patchNotFound) {
      this.patchNotFound = false;
      throw Object.assign(new Error("not found"), { code: 404 });
    }
    this.patches.push({ name, series });
  }
}

const dsd: KubernetesObject = {
  apiVersion: "serving.deepseek-operator.io/v1alpha1",
  kind: "DeepSeekDeployment",
  metadata: { name: "flash", namespace: "team-a", uid: "u-1", resourceVersion: "7" },
};

function setup(opts: { spamBurst?: number } = {}) {
  const clock = new FakeClock();
  const sink = new MemorySink();
  const metrics = new OperatorMetrics({ processMetrics: false });
  const rec = new EventRecorder({ sink, reportingInstance: "operator-0", clock, metrics, spamBurst: opts.spamBurst });
  const dropped = async (reason: string) =>
    (await metrics.registry.getSingleMetric("deepseek_operator_events_dropped_total")!.get()).values.find(
      (v) => v.labels.reason === reason,
    )?.value ?? 0;
  return { clock, sink, rec, dropped };
}

const stalled = {
  type: "Warning",
  reason: "WeightsDownloadStalled",
  action: "Download",
  note: "no progress for 10m",
} as const;

describe("EventRecorder", () => {
  it("writes an events.k8s.io/v1 Event with the reporting fields and a regarding reference", async () => {
    const t = setup();
    t.rec.record(dsd, { type: "Normal", reason: "PlanReady", action: "Plan", note: "8x H200, TP8" });
    await t.rec.flush();
    expect(t.sink.created).toHaveLength(1);
    const { namespace, event } = t.sink.created[0]!;
    expect(namespace).toBe("team-a");
    expect(event).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: "operator-0",
      reason: "PlanReady",
      action: "Plan",
      type: "Normal",
      note: "8x H200, TP8",
      regarding: {
        apiVersion: "serving.deepseek-operator.io/v1alpha1",
        kind: "DeepSeekDeployment",
        namespace: "team-a",
        name: "flash",
        uid: "u-1",
      },
    });
    expect(event.metadata!.name).toMatch(/^flash\.[0-9a-f]+$/);
    expect(JSON.parse(JSON.stringify(event)).eventTime).toMatch(/\.\d{6}Z$/);
  });

  it("aggregates a hot loop into one Event with a series count, patched at most once per flush interval", async () => {
    const t = setup();
    for (let i = 0; i < 50; i++) {
      t.rec.record({ ...dsd, metadata: { ...dsd.metadata, resourceVersion: String(100 + i) } }, stalled);
      await t.clock.advance(1000);
    }
    await t.rec.flush();
    expect(t.sink.created).toHaveLength(1);
    const name = t.sink.created[0]!.event.metadata!.name;
    // count 2 at once, then one flush per 60 s window: at most a handful of patches for 50 occurrences
    expect(t.sink.patches[0]!.series.count).toBe(2);
    expect(t.sink.patches.length).toBeLessThanOrEqual(3);
    await t.clock.advance(60_000);
    await t.rec.flush();
    expect(t.sink.patches.at(-1)!.series.count).toBe(50);
    expect(t.sink.patches.every((p) => p.name === name)).toBe(true);
  });

  it("starts a new Event once the aggregation window (6 min) has passed", async () => {
    const t = setup();
    t.rec.record(dsd, stalled);
    await t.clock.advance(7 * 60_000);
    t.rec.record(dsd, stalled);
    await t.rec.flush();
    expect(t.sink.created).toHaveLength(2);
    expect(t.sink.patches).toHaveLength(0);
  });

  it("keeps different notes, reasons and objects apart", async () => {
    const t = setup();
    t.rec.record(dsd, stalled);
    t.rec.record(dsd, { ...stalled, note: "no progress for 20m" });
    t.rec.record(dsd, { ...stalled, reason: "WeightsReady", type: "Normal" });
    t.rec.record({ ...dsd, metadata: { ...dsd.metadata, name: "other", uid: "u-2" } }, stalled);
    await t.rec.flush();
    expect(t.sink.created).toHaveLength(4);
  });

  it("rate-limits new Events per object (burst, then one per refill interval)", async () => {
    const t = setup({ spamBurst: 3 });
    for (let i = 0; i < 10; i++) t.rec.record(dsd, { ...stalled, note: `attempt ${i}` });
    await t.rec.flush();
    expect(t.sink.created).toHaveLength(3);
    expect(await t.dropped("spam")).toBe(7);
    await t.clock.advance(5 * 60_000);
    t.rec.record(dsd, { ...stalled, note: "later" });
    await t.rec.flush();
    expect(t.sink.created).toHaveLength(4);
  });

  it("logs and counts failed writes instead of throwing, and retries a create on the next occurrence", async () => {
    const t = setup();
    t.sink.failCreate = 1;
    expect(() => t.rec.record(dsd, stalled)).not.toThrow();
    await t.rec.flush();
    expect(await t.dropped("error")).toBe(1);
    t.rec.record(dsd, stalled);
    await t.rec.flush();
    expect(t.sink.created).toHaveLength(1);
    expect(t.sink.patches).toHaveLength(0);
  });

  it("re-creates the Event when the series patch finds it expired (404)", async () => {
    const t = setup();
    t.rec.record(dsd, stalled);
    await t.rec.flush();
    t.sink.patchNotFound = true;
    t.rec.record(dsd, stalled);
    await t.rec.flush();
    expect(t.sink.created).toHaveLength(2);
    expect(t.sink.created[1]!.event.metadata!.name).not.toBe(t.sink.created[0]!.event.metadata!.name);
  });

  it("truncates notes to 1024 bytes on a character boundary", () => {
    expect(Buffer.byteLength(truncateUtf8("é".repeat(600), 1024))).toBe(1024);
    expect(truncateUtf8("ab€", 4)).toBe("ab");
    expect(truncateUtf8("short", 1024)).toBe("short");
  });
});

describe("KubeEventSink on the wire", () => {
  let server: FakeApiServer;
  beforeEach(async () => {
    server = await new FakeApiServer().start();
  });
  afterEach(async () => {
    await server.stop();
  });

  it("POSTs the Event with a six-digit eventTime and patches the series as a merge patch", async () => {
    const api = server.kubeConfig().makeApiClient(EventsV1Api);
    const metrics = new OperatorMetrics({ processMetrics: false });
    const rec = new EventRecorder({ sink: new KubeEventSink(api, metrics), reportingInstance: "operator-0", metrics });
    rec.record(dsd, stalled);
    await rec.flush();
    rec.record(dsd, stalled);
    await rec.flush();
    const post = server.requestsTo("POST", "/apis/events.k8s.io/v1/namespaces/team-a/events")[0]!;
    expect(post.json.eventTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(post.json).toMatchObject({
      reason: "WeightsDownloadStalled",
      action: "Download",
      type: "Warning",
      reportingInstance: "operator-0",
    });
    const patch = server.requestsTo(
      "PATCH",
      `/apis/events.k8s.io/v1/namespaces/team-a/events/${post.json.metadata.name}`,
    )[0]!;
    expect(patch.headers["content-type"]).toBe("application/merge-patch+json");
    expect(patch.json.series.count).toBe(2);
    expect(patch.json.series.lastObservedTime).toMatch(/\.\d{6}Z$/);
    const writes = (await metrics.registry.getSingleMetric("deepseek_operator_api_writes_total")!.get()).values;
    expect(writes.map((v) => `${v.labels.verb}/${v.labels.kind}=${v.value}`).sort()).toEqual([
      "create/Event=1",
      "patch/Event=1",
    ]);
  });

  it("with a fence, sends nothing once it is closed, also when it closes while the request waits for its connection", async () => {
    const api = server.kubeConfig().makeApiClient(EventsV1Api);
    const metrics = new OperatorMetrics({ processMetrics: false });
    let checks = 0;
    const fence = {
      signal: new AbortController().signal,
      check: () => {
        if (++checks > 1) throw new LeadershipLostError("not the leader");
      },
    };
    const sink = new KubeEventSink(api, metrics, 10_000, fence);
    const ev = { metadata: { name: "x", namespace: "team-a" }, eventTime: new Date() } as never;
    await expect(sink.create("team-a", ev)).rejects.toBeDefined(); // open at the call, closed at the connection
    await expect(sink.create("team-a", ev)).rejects.toBeInstanceOf(LeadershipLostError); // closed at the call
    expect(server.requestsTo("POST", "/apis/events.k8s.io/")).toHaveLength(0);
  });
});
