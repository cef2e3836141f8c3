// Kubernetes Events on events.k8s.io/v1, modelled on client-go tools/events (the recorder controller-runtime now
// uses), with two protections against a hot reconcile loop:
//
// * Aggregation (client-go's "isomorphic events"): the first occurrence is created; a repeat within the
//   aggregation window turns it into a series ({count, lastObservedTime}, patched onto the same Event); further
//   repeats only bump the count in memory and are flushed at most once per seriesFlushMs. The window closes when
//   no repeat was seen for windowMs (client-go finishTime, 6 min); the next occurrence starts a new Event.
//   Unlike client-go, the key includes the note and ignores the object's resourceVersion: "identical" means same
//   object, related object, type, reason, action and note, however often the object was rewritten meanwhile.
// * A per-object token bucket (client-go's core/v1 EventCorrelator spam filter: burst 25, one per 5 min) for new
//   Events, so a loop whose notes differ each time cannot flood the namespace either.
//
// Recording never throws and never blocks the reconcile: writes are asynchronous, failures are logged and counted.
import { createHash } from "node:crypto";
import {
  V1MicroTime,
  type EventsV1Api,
  type EventsV1Event,
  type EventsV1EventSeries,
  type KubernetesObject,
  type V1ObjectReference,
} from "@kubernetes/client-node";
import { rootLogger, type Logger } from "../../util/log.ts";
import { realClock, type Clock } from "./clock.ts";
import { isNotFound } from "./errors.ts";
import { OperatorMetrics } from "./metrics.ts";
import { requestOptions } from "./requestoptions.ts";
import type { WriteFence } from "./fence.ts";

export const REPORTING_CONTROLLER = "serving.deepseek-operator.io/deepseek-operator";
export const NOTE_MAX_BYTES = 1024;

import type { EventSpec } from "../../reconcile/event-spec.ts";

export type { EventSpec } from "../../reconcile/event-spec.ts";

/** Where events go; KubeEventSink in production, an array in tests. */
export interface EventSink {
  create(namespace: string, event: EventsV1Event): Promise<void>;
  patchSeries(namespace: string, name: string, series: EventsV1EventSeries): Promise<void>;
}

export class KubeEventSink implements EventSink {
  readonly #api: EventsV1Api;
  readonly #metrics: OperatorMetrics;
  readonly #timeoutMs: number;
  readonly #fence: WriteFence | undefined;

  /** With a `fence`, nothing is sent once it is closed: Events are writes of the leader like any other. */
  constructor(api: EventsV1Api, metrics?: OperatorMetrics, timeoutMs = 10_000, fence?: WriteFence) {
    this.#api = api;
    this.#metrics = metrics ?? new OperatorMetrics({ processMetrics: false });
    this.#timeoutMs = timeoutMs;
    this.#fence = fence;
  }

  #options(contentType?: string) {
    this.#fence?.check();
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    return requestOptions({
      signal: this.#fence ? AbortSignal.any([timeout, this.#fence.signal]) : timeout,
      ...(contentType ? { contentType } : {}),
      ...(this.#fence ? { fence: this.#fence } : {}),
    });
  }

  async create(namespace: string, event: EventsV1Event): Promise<void> {
    const options = this.#options();
    this.#metrics.apiWrites.inc({ verb: "create", kind: "Event" });
    await this.#api.createNamespacedEvent({ namespace, body: event }, options);
  }

  async patchSeries(namespace: string, name: string, series: EventsV1EventSeries): Promise<void> {
    const options = this.#options("application/merge-patch+json");
    this.#metrics.apiWrites.inc({ verb: "patch", kind: "Event" });
    await this.#api.patchNamespacedEvent({ namespace, name, body: { series } }, options);
  }
}

export interface EventRecorderOptions {
  sink: EventSink;
  /** The operator pod's name (reportingInstance), e.g. from the downward API. */
  reportingInstance: string;
  reportingController?: string;
  clock?: Clock;
  log?: Logger;
  metrics?: OperatorMetrics;
  /** Aggregation window: a repeat within this time of the last one joins the series. Default 6 min. */
  windowMs?: number;
  /** Minimum time between series patches of one Event. Default 60 s. */
  seriesFlushMs?: number;
  /** New Events per object: burst and refill interval. Default 25 and one per 5 min. */
  spamBurst?: number;
  spamRefillMs?: number;
  /** Writes in flight beyond this are dropped. Default 1000 (client-go's channel size). */
  maxPending?: number;
}

interface Aggregate {
  namespace: string;
  name: string;
  event: EventsV1Event;
  count: number;
  lastObserved: number;
  /** Count last written to the server (1 = the plain Event). */
  written: number;
  lastFlush: number;
  flushScheduled: boolean;
  /** Writes for one Event are serialised: a series patch waits for its create. */
  chain: Promise<void>;
}

interface Bucket {
  tokens: number;
  last: number;
}

const MAX_TRACKED = 4096;

function toReference(o: KubernetesObject | V1ObjectReference): V1ObjectReference {
  if ("metadata" in o && o.metadata) {
    return {
      apiVersion: o.apiVersion,
      kind: o.kind,
      namespace: o.metadata.namespace,
      name: o.metadata.name,
      uid: o.metadata.uid,
    };
  }
  const r = o as V1ObjectReference;
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    uid: r.uid,
    fieldPath: r.fieldPath,
  };
}

/** Cut to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s, "utf8") <= max) return s;
  let out = "";
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

export class EventRecorder {
  readonly #sink: EventSink;
  readonly #instance: string;
  readonly #controller: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: OperatorMetrics;
  readonly #windowMs: number;
  readonly #flushMs: number;
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #maxPending: number;
  readonly #aggregates = new Map<string, Aggregate>();
  readonly #buckets = new Map<string, Bucket>();
  readonly #pending = new Set<Promise<void>>();
  readonly #warnedReasons = new Set<string>();
  #seq = 0;

  constructor(opts: EventRecorderOptions) {
    this.#sink = opts.sink;
    this.#instance = opts.reportingInstance;
    this.#controller = opts.reportingController ?? REPORTING_CONTROLLER;
    this.#clock = opts.clock ?? realClock;
    this.#log = (opts.log ?? rootLogger).child({ component: "events" });
    this.#metrics = opts.metrics ?? new OperatorMetrics({ processMetrics: false });
    this.#windowMs = opts.windowMs ?? 6 * 60_000;
    this.#flushMs = opts.seriesFlushMs ?? 60_000;
    this.#burst = opts.spamBurst ?? 25;
    this.#refillMs = opts.spamRefillMs ?? 5 * 60_000;
    this.#maxPending = opts.maxPending ?? 1000;
  }

  /** Record an Event about `regarding`. Never throws; the write happens in the background. */
  record(regarding: KubernetesObject | V1ObjectReference, spec: EventSpec): void {
    try {
      this.#record(toReference(regarding), spec);
    } catch (err) {
      this.#log.error({ err, reason: spec.reason }, "failed to record event");
    }
  }

  /** Wait for every write started so far (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #record(regarding: V1ObjectReference, spec: EventSpec): void {
    const now = this.#clock.now();
    if (!/^[A-Z][A-Za-z0-9]*$/.test(spec.reason) && !this.#warnedReasons.has(spec.reason)) {
      this.#warnedReasons.add(spec.reason);
      this.#log.warn({ reason: spec.reason }, "event reason should be UpperCamelCase");
    }
    const related = spec.related ? toReference(spec.related) : undefined;
    const note = truncateUtf8(spec.note, NOTE_MAX_BYTES);
    const reason = spec.reason.slice(0, 128);
    const action = spec.action.slice(0, 128);
    const objKey = [regarding.apiVersion, regarding.kind, regarding.namespace, regarding.name, regarding.uid].join("|");
    // A digest, not the text: the key lives as long as the aggregate, and the note alone is up to 1 KB.
    const key = createHash("sha256")
      .update(
        JSON.stringify([objKey, related?.kind, related?.namespace, related?.name, spec.type, reason, action, note]),
      )
      .digest("base64");
    this.#expire(now);

    const agg = this.#aggregates.get(key);
    if (agg) {
      agg.count++;
      agg.lastObserved = now;
      // Map order doubles as recency order for eviction.
      this.#aggregates.delete(key);
      this.#aggregates.set(key, agg);
      this.#scheduleSeries(agg);
      return;
    }

    if (!this.#takeToken(objKey, now)) {
      this.#metrics.eventsDropped.inc({ reason: "spam" });
      this.#log.debug({ reason, object: regarding.name }, "event dropped by the per-object rate limit");
      return;
    }
    const namespace = regarding.namespace || "default";
    const name = `${regarding.name ?? "object"}.${(BigInt(now) * 1_000_000n + BigInt(this.#seq++ % 1_000_000)).toString(16)}`;
    const event: EventsV1Event = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name, namespace },
      eventTime: new V1MicroTime(now),
      reportingController: this.#controller,
      reportingInstance: this.#instance,
      action,
      reason,
      regarding,
      related,
      note,
      type: spec.type,
    };
    const created: Aggregate = {
      namespace,
      name,
      event,
      count: 1,
      lastObserved: now,
      written: 0,
      lastFlush: now,
      flushScheduled: false,
      chain: Promise.resolve(),
    };
    this.#aggregates.set(key, created);
    if (this.#aggregates.size > MAX_TRACKED) this.#aggregates.delete(this.#aggregates.keys().next().value!);
    this.#enqueue(created, async () => {
      try {
        await this.#sink.create(namespace, event);
        created.written = 1;
      } catch (err) {
        this.#metrics.eventsDropped.inc({ reason: "error" });
        this.#log.warn({ err, reason, namespace, name: regarding.name }, "could not create event");
        // Forget it, so the next occurrence tries a fresh create instead of patching a missing Event.
        if (this.#aggregates.get(key) === created) this.#aggregates.delete(key);
      }
    });
  }

  /** The second occurrence is patched at once (client-go); later ones at most once per seriesFlushMs. */
  #scheduleSeries(agg: Aggregate): void {
    if (agg.flushScheduled) return;
    const wait = agg.count === 2 ? 0 : Math.max(0, agg.lastFlush + this.#flushMs - this.#clock.now());
    agg.flushScheduled = true;
    const run = (): void => {
      agg.flushScheduled = false;
      this.#enqueue(agg, () => this.#writeSeries(agg));
    };
    if (wait === 0) run();
    else this.#clock.setTimeout(run, wait);
  }

  async #writeSeries(agg: Aggregate): Promise<void> {
    if (agg.written === 0 || agg.count === agg.written) return; // create failed, or nothing new
    const count = agg.count;
    agg.lastFlush = this.#clock.now();
    const series = { count, lastObservedTime: new V1MicroTime(agg.lastObserved) };
    try {
      await this.#sink.patchSeries(agg.namespace, agg.name, series);
      agg.written = count;
    } catch (patchErr) {
      let err = patchErr;
      if (isNotFound(err)) {
        // The Event expired (default TTL 1 h) while the series went on: start a new one, as client-go does.
        agg.name = `${agg.event.regarding?.name ?? "object"}.${(BigInt(this.#clock.now()) * 1_000_000n + BigInt(this.#seq++ % 1_000_000)).toString(16)}`;
        const fresh: EventsV1Event = {
          ...agg.event,
          metadata: { name: agg.name, namespace: agg.namespace },
          eventTime: new V1MicroTime(this.#clock.now()),
        };
        try {
          await this.#sink.create(agg.namespace, fresh);
          agg.count = agg.written = 1;
          return;
        } catch (err2) {
          err = err2;
        }
      }
      this.#metrics.eventsDropped.inc({ reason: "error" });
      this.#log.warn({ err, reason: agg.event.reason, name: agg.name }, "could not update event series");
    }
  }

  #enqueue(agg: Aggregate, write: () => Promise<void>): void {
    if (this.#pending.size >= this.#maxPending) {
      this.#metrics.eventsDropped.inc({ reason: "overflow" });
      return;
    }
    const p = agg.chain.then(write);
    agg.chain = p;
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  #expire(now: number): void {
    for (const [key, agg] of this.#aggregates) {
      if (now - agg.lastObserved <= this.#windowMs) break; // recency order: the rest are newer
      // Its last count is already written or scheduled (every repeat schedules a flush); only stop aggregating.
      this.#aggregates.delete(key);
    }
  }

  #takeToken(objKey: string, now: number): boolean {
    let b = this.#buckets.get(objKey);
    if (!b) {
      b = { tokens: this.#burst, last: now };
      this.#buckets.set(objKey, b);
      if (this.#buckets.size > MAX_TRACKED) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    b.tokens = Math.min(this.#burst, b.tokens + (now - b.last) / this.#refillMs);
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
