// LeaseLock implementations: coordination.k8s.io/v1 Lease through client-node's CoordinationV1Api, and an
// in-memory store for tests (and for running several candidates in one process).
import { V1MicroTime, type CoordinationV1Api, type V1Lease, type V1LeaseSpec } from "@kubernetes/client-node";
import type { Clock } from "./clock.ts";
import { KubeApiError, isNotFound } from "./errors.ts";
import type { LeaderElectionRecord, LeaseLock } from "./leader.ts";
import { OperatorMetrics } from "./metrics.ts";
import { requestOptions } from "./requestoptions.ts";
import { asError } from "../../util/errors.ts";

/** MicroTime fields come back from client-node as strings (it has no model for V1MicroTime) or as Dates. */
function toMs(t: unknown): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t === "string") return Date.parse(t);
  return 0;
}

export function leaseSpecToRecord(spec: V1LeaseSpec | undefined): LeaderElectionRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? "",
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: toMs(spec?.acquireTime),
    renewTime: toMs(spec?.renewTime),
    leaderTransitions: spec?.leaseTransitions ?? 0,
  };
}

/**
 * renewTime/acquireTime are MicroTime: the apiserver parses exactly six fractional digits and rejects a plain
 * Date's "…123Z" with HTTP 400. V1MicroTime serialises as "…123000Z".
 */
export function recordToLeaseSpec(r: LeaderElectionRecord): V1LeaseSpec {
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: new V1MicroTime(r.acquireTime),
    renewTime: new V1MicroTime(r.renewTime),
    leaseTransitions: r.leaderTransitions,
  };
}

export class KubeLeaseLock implements LeaseLock {
  readonly identity: string;
  readonly #api: CoordinationV1Api;
  readonly #namespace: string;
  readonly #name: string;
  readonly #metrics: OperatorMetrics;
  /** The lease as last read or written: its resourceVersion makes update() an optimistic write. */
  #lease: V1Lease | undefined;

  constructor(api: CoordinationV1Api, namespace: string, name: string, identity: string, metrics?: OperatorMetrics) {
    this.#api = api;
    this.#namespace = namespace;
    this.#name = name;
    this.identity = identity;
    this.#metrics = metrics ?? new OperatorMetrics({ processMetrics: false });
  }

  describe(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  async get(signal: AbortSignal): Promise<{ record: LeaderElectionRecord; raw: string } | undefined> {
    try {
      this.#lease = await this.#api.readNamespacedLease(
        { name: this.#name, namespace: this.#namespace },
        requestOptions({ signal }),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.#wrap("get", err);
    }
    return { record: leaseSpecToRecord(this.#lease.spec), raw: JSON.stringify(this.#lease.spec ?? {}) };
  }

  async create(record: LeaderElectionRecord, signal: AbortSignal): Promise<void> {
    this.#metrics.apiWrites.inc({ verb: "create", kind: "Lease" });
    try {
      this.#lease = await this.#api.createNamespacedLease(
        {
          namespace: this.#namespace,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.#name, namespace: this.#namespace },
            spec: recordToLeaseSpec(record),
          },
        },
        requestOptions({ signal }),
      );
    } catch (err) {
      throw this.#wrap("create", err);
    }
  }

  async update(record: LeaderElectionRecord, signal: AbortSignal): Promise<void> {
    if (!this.#lease) throw new Error(`lease ${this.describe()} not initialized, call get or create first`);
    this.#metrics.apiWrites.inc({ verb: "update", kind: "Lease" });
    try {
      this.#lease = await this.#api.replaceNamespacedLease(
        { name: this.#name, namespace: this.#namespace, body: { ...this.#lease, spec: recordToLeaseSpec(record) } },
        requestOptions({ signal }),
      );
    } catch (err) {
      throw this.#wrap("update", err);
    }
  }

  #wrap(verb: string, err: unknown): Error {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "number") {
      return new KubeApiError(
        verb,
        { apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: this.#namespace, name: this.#name },
        code,
        (err as { body?: unknown }).body,
        { cause: err },
      );
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** One lease in memory, shared by several MemoryLeaseLocks (candidates). Scriptable failures for tests. */
export class MemoryLeaseStore {
  lease: { record: LeaderElectionRecord; rv: number } | undefined;
  #rv = 0;
  readonly #latency: { clock: Clock; ms: number } | undefined;

  /** With a latency every call takes that long on `clock`, so candidates' calls interleave as over a network. */
  constructor(latency?: { clock: Clock; ms: number }) {
    this.#latency = latency;
  }

  /** Make the next calls of any candidate fail (e.g. an apiserver outage) or never answer. */
  mode: "ok" | "fail" | "hang" = "ok";
  readonly writes: Array<{ identity: string; record: LeaderElectionRecord }> = [];
  /** Updates rejected for a stale resourceVersion. */
  conflicts = 0;

  write(identity: string, record: LeaderElectionRecord, expectedRv: number | undefined): number {
    if (expectedRv !== undefined && this.lease?.rv !== expectedRv) {
      this.conflicts++;
      throw Object.assign(new Error("Operation cannot be fulfilled on leases: the object has been modified"), {
        code: 409,
      });
    }
    this.lease = { record: { ...record }, rv: ++this.#rv };
    this.writes.push({ identity, record: { ...record } });
    return this.lease.rv;
  }

  async gate(signal: AbortSignal): Promise<void> {
    if (this.#latency) await this.#latency.clock.sleep(this.#latency.ms, signal);
    if (this.mode === "fail") throw Object.assign(new Error("connection refused"), { code: 503 });
    if (this.mode === "hang") {
      await new Promise<void>((_, reject) =>
        signal.addEventListener("abort", () => reject(asError(signal.reason)), { once: true }),
      );
    }
  }
}

export class MemoryLeaseLock implements LeaseLock {
  readonly identity: string;
  readonly #store: MemoryLeaseStore;
  #rv: number | undefined;

  constructor(store: MemoryLeaseStore, identity: string) {
    this.#store = store;
    this.identity = identity;
  }

  describe(): string {
    return "memory/lease";
  }

  async get(signal: AbortSignal): Promise<{ record: LeaderElectionRecord; raw: string } | undefined> {
    await this.#store.gate(signal);
    const l = this.#store.lease;
    if (!l) return undefined;
    this.#rv = l.rv;
    return { record: { ...l.record }, raw: JSON.stringify(l.record) };
  }

  async create(record: LeaderElectionRecord, signal: AbortSignal): Promise<void> {
    await this.#store.gate(signal);
    if (this.#store.lease)
      throw Object.assign(new Error("leases already exists"), { code: 409, reason: "AlreadyExists" });
    this.#rv = this.#store.write(this.identity, record, undefined);
  }

  async update(record: LeaderElectionRecord, signal: AbortSignal): Promise<void> {
    await this.#store.gate(signal);
    if (this.#rv === undefined) throw new Error("lease not initialized, call get or create first");
    this.#rv = this.#store.write(this.identity, record, this.#rv);
  }
}
