// KubeLeaseLock over client-node's CoordinationV1Api against the loopback fake apiserver, which here enforces
// the real apiserver's MicroTime rule (exactly six fractional digits) and optimistic locking on PUT.
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { isConflict } from "./errors.ts";
import { FakeApiServer } from "./fakeapiserver.ts";
import { LeaderElector } from "./leader.ts";
import { KubeLeaseLock, leaseSpecToRecord, recordToLeaseSpec } from "./leaselock.ts";
import { OperatorMetrics } from "./metrics.ts";
import { FakeClock, advanceUntil } from "./testing.ts";

const MICRO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const LEASES = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";

let server: FakeApiServer;
let api: CoordinationV1Api;
beforeEach(async () => {
  server = await new FakeApiServer().start();
  server.override((req, res) => {
    const spec = req.json?.spec;
    if (!req.path.startsWith(LEASES) || !spec) return false;
    for (const f of ["renewTime", "acquireTime"]) {
      if (spec[f] !== undefined && !MICRO.test(spec[f])) {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            kind: "Status",
            code: 400,
            reason: "BadRequest",
            message: `cannot parse "${spec[f]}" as MicroTime`,
          }),
        );
        return true;
      }
    }
    return false;
  });
  api = server.kubeConfig().makeApiClient(CoordinationV1Api);
});
afterEach(async () => {
  await server.stop();
});

const rec = (holder: string, t: number) => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: t,
  renewTime: t,
  leaderTransitions: 0,
});
const never = new AbortController().signal;

describe("KubeLeaseLock on the wire", () => {
  it("creates with six-digit MicroTimes, reads them back, and PUTs with the resourceVersion it last saw", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const a = new KubeLeaseLock(api, "ops", "dsd-operator", "pod-a", metrics);
    const b = new KubeLeaseLock(api, "ops", "dsd-operator", "pod-b");
    expect(await a.get(never)).toBeUndefined();
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0, 123);
    await a.create(rec("pod-a", t0), never);
    const post = server.requestsTo("POST", LEASES)[0]!;
    expect(post.json.spec.renewTime).toBe("2026-01-01T12:00:00.123000Z");
    expect(post.json.spec).toMatchObject({ holderIdentity: "pod-a", leaseDurationSeconds: 15, leaseTransitions: 0 });

    const seenByB = await b.get(never);
    expect(seenByB!.record).toEqual(rec("pod-a", t0));
    await a.get(never);
    await a.update({ ...rec("pod-a", t0), renewTime: t0 + 2000 }, never);
    const put = server.requestsTo("PUT", `${LEASES}/dsd-operator`)[0]!;
    expect(put.json.metadata.resourceVersion).toBeDefined();
    expect(put.json.spec.renewTime).toMatch(MICRO);

    // b's view is stale: its PUT must conflict instead of overwriting a's renewal.
    const err = await b.update(rec("pod-b", t0 + 3000), never).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect(String(err)).toMatch(/update Lease ops\/dsd-operator: HTTP 409/);
    const writes = (await metrics.registry.getSingleMetric("deepseek_operator_api_writes_total")!.get()).values;
    expect(writes.map((v) => [v.labels.verb, v.value])).toEqual([
      ["create", 1],
      ["update", 1],
    ]);
  });

  it("a plain Date would be rejected by the apiserver's MicroTime parser", async () => {
    const spec = {
      ...recordToLeaseSpec(rec("x", Date.UTC(2026, 0, 1))),
      renewTime: new Date(Date.UTC(2026, 0, 1)) as never,
    };
    const err = await api
      .createNamespacedLease({
        namespace: "ops",
        body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "bad" }, spec },
      })
      .catch((e: unknown) => e);
    expect((err as { code?: number }).code).toBe(400);
    expect(leaseSpecToRecord({ renewTime: "2026-01-01T00:00:00.500000Z" as never }).renewTime).toBe(
      Date.UTC(2026, 0, 1, 0, 0, 0, 500),
    );
  });

  it("an elector acquires, renews and releases a real Lease", async () => {
    const clock = new FakeClock();
    const stop = new AbortController();
    let leading = false;
    const el = new LeaderElector({
      lock: new KubeLeaseLock(api, "ops", "dsd-operator", "pod-a"),
      name: "dsd-operator",
      clock,
      random: () => 0,
      callbacks: { onStartedLeading: () => void (leading = true), onStoppedLeading: () => void (leading = false) },
    });
    const done = el.run(stop.signal);
    await advanceUntil(clock, () => leading);
    await advanceUntil(clock, () => server.requestsTo("PUT", LEASES).length >= 2);
    stop.abort();
    await advanceUntil(clock, () => !leading);
    await done;
    const last = server.requestsTo("PUT", LEASES).at(-1)!;
    expect(last.json.spec).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 0 });
  });
});
