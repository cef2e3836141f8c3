// Server-side apply and the few other calls a reconciler makes, sending exactly the JSON it is given.
//
// client-node's KubernetesObjectApi runs bodies of built-in kinds through its typed serializer, which silently
// drops fields it has no model for (a typo, or a field newer than the client) and turns timestamps into Date
// objects on the way back. A reconciler that computes "desired state" must apply precisely that state and compare
// against plain JSON, so this client reuses KubernetesObjectApi only for what it does well — API discovery (the
// kind → resource path mapping, cached per group/version), authentication and the HTTP transport — and does the
// body and response handling itself: JSON.stringify out, JSON.parse in, no models.
import type { KubeConfig, ResponseContext } from "@kubernetes/client-node";
import {
  ApiException,
  HttpMethod,
  KubernetesObjectApi,
  type KubernetesListObject,
  type KubernetesObject,
  type RequestContext,
} from "@kubernetes/client-node";
import { rootLogger, type Logger } from "../../util/log.ts";
import { KindNotServedError, KubeApiError, describeRef, isNotFound, type ObjectRef } from "./errors.ts";
import type { ListOptions, PageOptions } from "./informer.ts";
import { OperatorMetrics, type ApiWriteVerb } from "./metrics.ts";
import { shareConnections } from "./connections.ts";
import type { WriteFence } from "./fence.ts";
import { fencedDispatcher } from "./fence-dispatch.ts";

export const DEFAULT_FIELD_MANAGER = "deepseek-operator";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface WriteOptions {
  /** Server-side dry run (dryRun=All): validated and defaulted, not persisted. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface ApplyOptions extends WriteOptions {
  /** Defaults to the client's field manager ("deepseek-operator"). */
  fieldManager?: string;
  /** Take ownership of fields another manager owns. Default true: the operator is the authority for what it applies. */
  force?: boolean;
  /**
   * Default "Strict": an unknown or duplicated field is a 400, not a silently pruned field. Use "Warn" for
   * third-party CRDs whose installed version may lag what the operator renders (see docs).
   */
  fieldValidation?: FieldValidation;
}

export interface DeleteOptions extends WriteOptions {
  /** Default "Background": children are garbage-collected after the object is gone. */
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  gracePeriodSeconds?: number;
  /** Only delete the object with this uid / resourceVersion (guards against deleting a re-created object). */
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface PatchOptions extends WriteOptions {
  fieldManager?: string;
  subresource?: "status" | "scale";
}

export type PatchType = "merge" | "json";

const PATCH_CONTENT_TYPE: Record<PatchType | "apply", string> = {
  apply: "application/apply-patch+yaml", // JSON is YAML; the apiserver answers `+json` with 415
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
};

/** What identifies an object for a request. */
export interface ObjectHeader {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string };
}

interface SendSpec {
  verb: string;
  ref: ObjectRef;
  method: HttpMethod;
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Checked again when the request is written to its connection (fence-dispatch.ts). */
  fence?: WriteFence;
}

/**
 * KubernetesObjectApi with its model (de)serialisation bypassed. `protected` members of the base class are the
 * seam: specUriPath/resource for discovery, requestPromise for auth + middleware + transport, processResponse
 * replaced to return plain JSON.
 */
class RawObjectApi extends KubernetesObjectApi {
  log: Logger = rootLogger;
  readonly #fences = new WeakMap<RequestContext, WriteFence>();

  static forConfig(kc: KubeConfig): RawObjectApi {
    const api = kc.makeApiClient(RawObjectApi);
    api.setDefaultNamespace(kc);
    api.#fenceAtDispatch();
    return api;
  }

  /**
   * A fenced request gets its dispatcher (chosen by the auth step, connections.ts) wrapped so that the fence is
   * checked again at the moment undici writes the request to a connection: a request queued for a connection
   * while the process was frozen would otherwise go out on resume, before any timer could close the fence.
   */
  #fenceAtDispatch(): void {
    const http = this.configuration.httpApi;
    // Configuration's fields are declared readonly, but it is a plain object of client-node's making.
    (this.configuration as { httpApi: typeof http }).httpApi = {
      send: (ctx: RequestContext) => {
        const fence = this.#fences.get(ctx);
        if (fence) ctx.setDispatcher(fencedDispatcher(ctx.getDispatcher(), fence));
        return http.send(ctx);
      },
    };
  }

  /** Resource path of the object (or of its collection for action "list"/"create"), via cached discovery. */
  async pathFor(header: ObjectHeader, action: "read" | "patch" | "delete" | "list"): Promise<string> {
    // A copy: specUriPath fills in defaults (namespace, apiVersion) on the object it is given.
    const spec = { apiVersion: header.apiVersion, kind: header.kind, metadata: { ...header.metadata } };
    try {
      return await this.specUriPath(spec, action);
    } catch (err) {
      const code = err instanceof ApiException ? err.code : undefined;
      if (code === 404 || (err instanceof Error && /Unrecognized API version and kind/.test(err.message))) {
        throw new KindNotServedError(header.apiVersion, header.kind, { cause: err });
      }
      throw err;
    }
  }

  async send(spec: SendSpec): Promise<unknown> {
    const ctx: RequestContext = this.configuration.baseServer.makeRequestContext(spec.path, spec.method);
    ctx.setHeaderParam("Accept", "application/json");
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) ctx.setQueryParam(k, v);
    if (spec.body !== undefined) {
      ctx.setHeaderParam("Content-Type", spec.contentType ?? "application/json");
      ctx.setBody(JSON.stringify(spec.body));
    }
    if (spec.signal) ctx.setSignal(spec.signal);
    if (spec.fence) this.#fences.set(ctx, spec.fence);
    try {
      return await this.requestPromise(ctx);
    } catch (err) {
      if (err instanceof ApiException) throw new KubeApiError(spec.verb, spec.ref, err.code, err.body, { cause: err });
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`${spec.verb} ${describeRef(spec.ref)}: ${msg} (${spec.method} ${spec.path})`, { cause: err });
    }
  }

  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext): Promise<T> {
    const text = await response.body.text();
    const warning = response.headers["warning"];
    if (warning) this.log.warn({ warning }, "Kubernetes API warning");
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // Non-JSON bodies (a proxy's HTML error page) are kept as text for the error message.
    }
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) return body as T;
    throw new ApiException(response.httpStatusCode, "Unsuccessful HTTP Request", body, response.headers);
  }
}

export interface ApplyClientOptions {
  fieldManager?: string;
  metrics?: OperatorMetrics;
  log?: Logger;
  /** Per-request timeout so a hung connection cannot block a reconcile forever. Default 30 s. */
  requestTimeoutMs?: number;
  /** Every write checks it before it is sent and is aborted with it (leader election; see fence.ts). */
  fence?: WriteFence;
}

export class ApplyClient {
  readonly fieldManager: string;
  readonly #api: RawObjectApi;
  readonly #metrics: OperatorMetrics;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  #fence: WriteFence | undefined;

  constructor(kc: KubeConfig, opts: ApplyClientOptions = {}) {
    this.fieldManager = opts.fieldManager ?? DEFAULT_FIELD_MANAGER;
    // Pooled keep-alive connections for this client and every other one built from kc (Watch, Events, Lease):
    // without it client-node opens a new TLS connection per request (see connections.ts).
    shareConnections(kc);
    this.#api = RawObjectApi.forConfig(kc);
    this.#log = opts.log ?? rootLogger;
    this.#api.log = this.#log;
    this.#metrics = opts.metrics ?? new OperatorMetrics({ processMetrics: false });
    this.#timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#fence = opts.fence;
  }

  /**
   * Fence every later write (see fence.ts): the manager builds its client before it knows whether it will lead,
   * and fences it with the term's fence when it does. Reads stay unfenced.
   */
  setFence(fence: WriteFence): void {
    this.#fence = fence;
  }

  /**
   * Server-side apply `obj` (which must carry apiVersion, kind, metadata.name and, if namespaced,
   * metadata.namespace). Send only the fields the operator owns; fields it leaves out stay with their owners, and
   * fields it applied before and now omits are removed.
   */
  async apply<T extends KubernetesObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const header = headerOf(obj);
    const path = await this.#api.pathFor(header, "patch");
    return (await this.#write("apply", header, {
      method: HttpMethod.PATCH,
      path,
      query: this.#applyQuery(opts),
      body: obj,
      contentType: PATCH_CONTENT_TYPE.apply,
      signal: opts.signal,
    })) as T;
  }

  /**
   * Server-side apply of the status subresource: the body is {apiVersion, kind, metadata: {name, namespace},
   * status}. SSA rather than a merge patch because the operator recomputes the whole status each time: a status
   * field it stops sending (a finished download's progress) is removed instead of lingering, conditions merge per
   * `type` (list-map keys), there is no read-modify-write and no resourceVersion conflict, and an unchanged status
   * is a no-op on the server (no new resourceVersion, so no watch event and no reconcile loop).
   */
  async applyStatus<T extends KubernetesObject & { status?: unknown }>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const header = headerOf(obj);
    const path = await this.#api.pathFor(header, "patch");
    const body = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: header.metadata.name, namespace: header.metadata.namespace },
      status: obj.status,
    };
    return (await this.#write("status", header, {
      method: HttpMethod.PATCH,
      path: `${path}/status`,
      query: this.#applyQuery(opts),
      body,
      contentType: PATCH_CONTENT_TYPE.apply,
      signal: opts.signal,
    })) as T;
  }

  /** A merge patch (RFC 7386) or JSON patch (RFC 6902), e.g. a JSON patch with a `test` op as a precondition. */
  async patch<T extends KubernetesObject>(
    target: ObjectHeader,
    patch: unknown,
    type: PatchType,
    opts: PatchOptions = {},
  ): Promise<T> {
    const path = await this.#api.pathFor(target, "patch");
    return (await this.#write(opts.subresource === "status" ? "status" : "patch", target, {
      method: HttpMethod.PATCH,
      path: opts.subresource ? `${path}/${opts.subresource}` : path,
      query: { fieldManager: opts.fieldManager ?? this.fieldManager, dryRun: opts.dryRun ? "All" : undefined },
      body: patch,
      contentType: PATCH_CONTENT_TYPE[type],
      signal: opts.signal,
    })) as T;
  }

  /** Delete; resolves false when the object was already gone. */
  async delete(target: ObjectHeader, opts: DeleteOptions = {}): Promise<boolean> {
    const path = await this.#api.pathFor(target, "delete");
    const body = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      propagationPolicy: opts.propagationPolicy ?? "Background",
      gracePeriodSeconds: opts.gracePeriodSeconds,
      preconditions: opts.preconditions,
      dryRun: opts.dryRun ? ["All"] : undefined,
    };
    try {
      await this.#write("delete", target, { method: HttpMethod.DELETE, path, body, signal: opts.signal });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** GET one object (plain JSON); undefined if it does not exist. Reads are not counted as writes. */
  async get<T extends KubernetesObject>(
    target: ObjectHeader,
    opts: { signal?: AbortSignal } = {},
  ): Promise<T | undefined> {
    const path = await this.#api.pathFor(target, "read");
    try {
      return (await this.#api.send({
        verb: "get",
        ref: refOf(target),
        method: HttpMethod.GET,
        path,
        signal: this.#signal(opts.signal),
      })) as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** LIST a kind (optionally in one namespace) as plain JSON. */
  async list<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    opts: ListOptions & { namespace?: string } = {},
  ): Promise<KubernetesListObject<T>> {
    const path = await this.#api.pathFor({ apiVersion, kind, metadata: { namespace: opts.namespace } }, "list");
    return this.listPath<T>(path, opts, { apiVersion, kind, namespace: opts.namespace });
  }

  /**
   * LIST a collection path as plain JSON: the list function for informers, so cached objects look exactly like
   * watch events (client-node's watch hands out raw JSON; a typed list would mix Date objects into the cache).
   */
  async listPath<T extends KubernetesObject>(
    path: string,
    opts: ListOptions & PageOptions = {},
    ref: ObjectRef = { name: path },
  ): Promise<KubernetesListObject<T>> {
    return (await this.#api.send({
      verb: "list",
      ref,
      method: HttpMethod.GET,
      path,
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit?.toString(),
        continue: opts.continue,
      },
      signal: this.#signal(undefined),
    })) as KubernetesListObject<T>;
  }

  #applyQuery(opts: ApplyOptions): Record<string, string | undefined> {
    return {
      fieldManager: opts.fieldManager ?? this.fieldManager,
      force: String(opts.force ?? true),
      fieldValidation: opts.fieldValidation ?? "Strict",
      dryRun: opts.dryRun ? "All" : undefined,
    };
  }

  async #write(verb: ApiWriteVerb, target: ObjectHeader, req: Omit<SendSpec, "verb" | "ref">): Promise<unknown> {
    // Synchronously before the request: nothing between this check and the send yields to a timer.
    this.#fence?.check();
    this.#metrics.apiWrites.inc({ verb, kind: target.kind });
    const ref = refOf(target);
    const signal = this.#fence
      ? AbortSignal.any([this.#fence.signal, ...(req.signal ? [req.signal] : [])])
      : req.signal;
    const out = await this.#api.send({ ...req, verb, ref, signal: this.#signal(signal), fence: this.#fence });
    this.#log.debug({ verb, kind: target.kind, namespace: ref.namespace, name: ref.name }, "api write");
    return out;
  }

  #signal(signal: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  }
}

function headerOf(obj: KubernetesObject): ObjectHeader {
  if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) {
    throw new Error(`cannot write ${describeRef(refOf(obj))}: apiVersion, kind and metadata.name are required`);
  }
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
  };
}

function refOf(obj: {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}): ObjectRef {
  return { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata?.namespace, name: obj.metadata?.name };
}
