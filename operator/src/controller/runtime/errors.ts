// Error types the runtime and the reconciler share.

/**
 * A reconcile error that retrying cannot fix (controller-runtime reconcile.TerminalError): the controller logs
 * and counts it but does not requeue the key. A later change to the object enqueues it again as usual.
 */
export class TerminalError extends Error {
  override readonly name = "TerminalError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isTerminalError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof TerminalError) return true;
  }
  return false;
}

export interface ObjectRef {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
}

/** Describe an object the way errors and logs name it: "Deployment ns/name". */
export function describeRef(ref: ObjectRef): string {
  const kind = ref.kind ?? "object";
  const where = ref.namespace ? `${ref.namespace}/${ref.name ?? ""}` : (ref.name ?? "");
  return `${kind} ${where}`.trim();
}

/** A failed Kubernetes API call, with what was attempted on which object and the HTTP status. */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  readonly code: number;
  readonly verb: string;
  readonly ref: ObjectRef;
  /** The apiserver's Status reason ("NotFound", "Conflict", "Invalid", …) when it sent one. */
  readonly reason: string | undefined;
  readonly body: unknown;

  constructor(verb: string, ref: ObjectRef, code: number, body: unknown, options?: { cause?: unknown }) {
    const status = body && typeof body === "object" ? (body as { message?: unknown; reason?: unknown }) : undefined;
    const detail = typeof status?.message === "string" ? status.message : typeof body === "string" ? body : "";
    super(`${verb} ${describeRef(ref)}: HTTP ${code}${detail ? `: ${detail}` : ""}`, options);
    this.code = code;
    this.verb = verb;
    this.ref = ref;
    this.reason = typeof status?.reason === "string" ? status.reason : undefined;
    this.body = body;
  }
}

/**
 * The API server does not serve this apiVersion/kind (CRD not installed, e.g. LeaderWorkerSet without the LWS
 * controller). Distinct from NotFound of an object: retrying quickly will not help until someone installs it.
 */
export class KindNotServedError extends Error {
  override readonly name = "KindNotServedError";
  readonly apiVersion: string;
  readonly kind: string;
  constructor(apiVersion: string, kind: string, options?: { cause?: unknown }) {
    super(`the API server does not serve ${apiVersion} ${kind} (is its CRD installed?)`, options);
    this.apiVersion = apiVersion;
    this.kind = kind;
  }
}

/** HTTP status of a Kubernetes error from this runtime or from client-node (ApiException .code, Watch .statusCode). */
export function httpCode(err: unknown): number | undefined {
  if (!err || typeof err !== "object") return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === "number") return e.code;
  if (typeof e.statusCode === "number") return e.statusCode;
  return undefined;
}

/** The apiserver Status `reason` of an error from this runtime or a client-node ApiException (body may be text). */
export function statusReason(err: unknown): string | undefined {
  if (!err || typeof err !== "object") return undefined;
  const e = err as { reason?: unknown; body?: unknown };
  if (typeof e.reason === "string") return e.reason;
  let body = e.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const r = body && typeof body === "object" ? (body as { reason?: unknown }).reason : undefined;
  return typeof r === "string" ? r : undefined;
}

export function isNotFound(err: unknown): boolean {
  return httpCode(err) === 404;
}

/** 409 from an optimistic-concurrency failure (stale resourceVersion); not AlreadyExists, which is also a 409. */
export function isConflict(err: unknown): boolean {
  return httpCode(err) === 409 && statusReason(err) !== "AlreadyExists";
}

/** 422 Invalid (schema/CEL validation) or 400 BadRequest (strict field validation, malformed body). */
export function isInvalid(err: unknown): boolean {
  const c = httpCode(err);
  return c === 422 || c === 400;
}

export function isKindNotServed(err: unknown): boolean {
  return err instanceof KindNotServedError;
}
