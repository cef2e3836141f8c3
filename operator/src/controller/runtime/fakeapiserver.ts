// A tiny Kubernetes API server on 127.0.0.1 for tests: discovery, an object store with resourceVersions,
// list (paginated with limit/continue like the real one), scripted watch streams, create/replace (409 on a stale resourceVersion), patch (apply, merge) and delete.
// It records every request, so tests assert the exact wire format client-node produces. It is not a real apiserver:
// apply is a deep merge, not field-managed SSA, and nothing is validated unless a test installs a hook.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

export interface FakeResource {
  group: string; // "" for core
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
  json: any;
}

/** One scripted watch response: write events, then keep the stream open, close it, or answer with an HTTP status. */
export type WatchScript = (stream: WatchStream, req: RecordedRequest) => void | Promise<void>;

export interface WatchStream {
  send(type: string, object: unknown): void;
  close(): void;
  /** Reply with an HTTP error instead of a stream (only before the first send). */
  fail(code: number, reason: string): void;
}

type Override = (req: RecordedRequest, res: ServerResponse) => boolean | Promise<boolean>;

interface ParsedPath {
  resource: FakeResource;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  collection: string; // store key prefix
}

export const CORE_RESOURCES: FakeResource[] = [
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true },
  { group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true },
  { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true },
  { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true },
  { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true },
  { group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", namespaced: true },
];

function status(code: number, reason: string, message: string): object {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

function decodeContinue(token: string): { rv: string; offset: number } | undefined {
  try {
    const t = JSON.parse(Buffer.from(token, "base64").toString()) as { rv?: unknown; offset?: unknown };
    return typeof t.rv === "string" && typeof t.offset === "number" ? { rv: t.rv, offset: t.offset } : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** RFC 7386 merge; also used as the stand-in for apply (objects merge, lists and scalars replace). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly resources: FakeResource[];
  readonly objects = new Map<string, any>();
  rv = 1000;
  /** Answer every LIST with a continue token 410 Expired (as after an etcd compaction). */
  expireContinueTokens = false;
  #server: Server | undefined;
  #port = 0;
  #watchScripts = new Map<string, WatchScript[]>();
  #overrides: Override[] = [];
  #openStreams = new Set<ServerResponse>();

  constructor(resources: FakeResource[] = CORE_RESOURCES) {
    this.resources = [...resources];
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.#openStreams) s.destroy();
    await new Promise<void>((resolve) => {
      this.#server?.close(() => resolve());
      this.#server?.closeAllConnections();
    });
  }

  /** A KubeConfig for this server (plain http needs skipTLSVerify in client-node). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: this.url, skipTLSVerify: true }],
      users: [{ name: "u", token: "test-token" }],
      contexts: [{ name: "fake", cluster: "fake", user: "u", namespace: "default" }],
      currentContext: "fake",
    });
    return kc;
  }

  /** Queue scripts for the next watch requests on a collection path (e.g. /api/v1/namespaces/ns/configmaps). */
  scriptWatch(collectionPath: string, ...scripts: WatchScript[]): void {
    const q = this.#watchScripts.get(collectionPath) ?? [];
    q.push(...scripts);
    this.#watchScripts.set(collectionPath, q);
  }

  /** Intercept requests; return true when handled. Checked before the built-in behaviour, newest first. */
  override(fn: Override): void {
    this.#overrides.unshift(fn);
  }

  /** Store an object directly (bumps and assigns resourceVersion). */
  put(obj: any): any {
    const r = this.resources.find(
      (x) => x.kind === obj.kind && (x.group ? `${x.group}/${x.version}` : x.version) === obj.apiVersion,
    );
    if (!r) throw new Error(`fake apiserver: unknown kind ${obj.apiVersion} ${obj.kind}`);
    const stored = {
      ...obj,
      metadata: { uid: `uid-${obj.metadata.name}`, ...obj.metadata, resourceVersion: String(++this.rv) },
    };
    this.objects.set(`${this.#collectionPath(r, obj.metadata.namespace)}/${obj.metadata.name}`, stored);
    return stored;
  }

  remove(collectionPath: string, name: string): void {
    this.objects.delete(`${collectionPath}/${name}`);
  }

  requestsTo(method: string, pathPrefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix));
  }

  #collectionPath(r: FakeResource, namespace: string | undefined): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    return `${base}${r.namespaced && namespace ? `/namespaces/${namespace}` : ""}/${r.plural}`;
  }

  #parse(path: string): ParsedPath | undefined {
    const parts = path.split("/").filter(Boolean);
    let group = "";
    let version: string;
    let rest: string[];
    if (parts[0] === "api") {
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === "apis") {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else return undefined;
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const resource = this.resources.find((r) => r.group === group && r.version === version && r.plural === rest[0]);
    if (!resource) return undefined;
    return {
      resource,
      namespace,
      name: rest[1],
      subresource: rest[2],
      collection: this.#collectionPath(resource, namespace),
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://x");
    let json: any;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const rec: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      json,
    };
    this.requests.push(rec);
    for (const o of this.#overrides) if (await o(rec, res)) return;
    this.#builtin(rec, res);
  }

  #reply(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  }

  #builtin(req: RecordedRequest, res: ServerResponse): void {
    const disco = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(req.path);
    if (disco && req.method === "GET") {
      const group = disco[2] ?? "";
      const version = disco[1] ?? disco[3]!;
      const rs = this.resources.filter((r) => r.group === group && r.version === version);
      if (rs.length === 0)
        return this.#reply(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
      return this.#reply(res, 200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: group ? `${group}/${version}` : version,
        resources: rs.map((r) => ({
          name: r.plural,
          singularName: r.kind.toLowerCase(),
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
        })),
      });
    }
    const p = this.#parse(req.path);
    if (!p) return this.#reply(res, 404, status(404, "NotFound", `no route for ${req.path}`));
    const key = p.name ? `${p.collection}/${p.name}` : undefined;
    const apiVersion = p.resource.group ? `${p.resource.group}/${p.resource.version}` : p.resource.version;
    const notFound = (): void =>
      this.#reply(res, 404, status(404, "NotFound", `${p.resource.plural} "${p.name}" not found`));

    if (req.method === "GET" && !key && req.query.get("watch") === "true") return this.#watch(p.collection, req, res);
    if (req.method === "GET" && !key) {
      const items = [...this.objects.entries()]
        .filter(([k]) => k.startsWith(`${p.collection}/`) || (!p.namespace && this.#sameResource(k, p)))
        .map(([, v]) => v);
      // Like the real apiserver, list items carry no apiVersion/kind (the list does).
      const bare = items.map(({ apiVersion: _v, kind: _k, ...rest }) => rest);
      const kind = `${p.resource.kind}List`;
      const limit = Number(req.query.get("limit") ?? 0);
      const token = req.query.get("continue");
      if (!limit && !token)
        return this.#reply(res, 200, { apiVersion, kind, metadata: { resourceVersion: String(this.rv) }, items: bare });
      // Pages in a stable order; the token carries the snapshot's resourceVersion and the next offset. Unlike the
      // real apiserver, later pages show the store as it is now, not as it was at the snapshot.
      if (token && this.expireContinueTokens)
        return this.#reply(
          res,
          410,
          status(410, "Expired", "The provided continue parameter is too old to display a consistent list result."),
        );
      const from = token ? decodeContinue(token) : { rv: String(this.rv), offset: 0 };
      if (!from) return this.#reply(res, 400, status(400, "BadRequest", "continue key is not valid"));
      const end = limit ? from.offset + limit : bare.length;
      const next =
        end < bare.length ? Buffer.from(JSON.stringify({ rv: from.rv, offset: end })).toString("base64") : undefined;
      return this.#reply(res, 200, {
        apiVersion,
        kind,
        metadata: {
          resourceVersion: from.rv,
          ...(next ? { continue: next, remainingItemCount: bare.length - end } : {}),
        },
        items: bare.slice(from.offset, end),
      });
    }
    if (req.method === "GET")
      return this.objects.has(key!) ? this.#reply(res, 200, this.objects.get(key!)) : notFound();
    if (req.method === "POST") {
      const name = req.json?.metadata?.name;
      const k = `${p.collection}/${name}`;
      if (this.objects.has(k))
        return this.#reply(res, 409, status(409, "AlreadyExists", `${p.resource.plural} "${name}" already exists`));
      return this.#reply(
        res,
        201,
        this.put({ ...req.json, metadata: { ...req.json.metadata, namespace: p.namespace } }),
      );
    }
    if (req.method === "PUT") {
      const cur = this.objects.get(key!);
      if (!cur) return notFound();
      if (req.json?.metadata?.resourceVersion !== cur.metadata.resourceVersion) {
        return this.#reply(
          res,
          409,
          status(
            409,
            "Conflict",
            `Operation cannot be fulfilled on ${p.resource.plural} "${p.name}": the object has been modified`,
          ),
        );
      }
      return this.#reply(
        res,
        200,
        this.put({ ...req.json, metadata: { ...req.json.metadata, uid: cur.metadata.uid } }),
      );
    }
    if (req.method === "PATCH") {
      const ct = String(req.headers["content-type"] ?? "");
      const cur = this.objects.get(key!);
      if (ct.startsWith("application/apply-patch+yaml")) {
        if (!req.query.get("fieldManager"))
          return this.#reply(res, 400, status(400, "BadRequest", "PATCH request must have fieldManager"));
        if (p.subresource === "status") {
          if (!cur) return notFound();
          return this.#reply(res, 200, this.put({ ...cur, status: req.json?.status }));
        }
        const merged = mergePatch(cur ?? {}, req.json) as any;
        return this.#reply(
          res,
          cur ? 200 : 201,
          this.put({
            ...merged,
            apiVersion,
            kind: p.resource.kind,
            metadata: { ...merged.metadata, namespace: p.namespace },
          }),
        );
      }
      if (ct.startsWith("application/merge-patch+json")) {
        if (!cur) return notFound();
        return this.#reply(res, 200, this.put(mergePatch(cur, req.json)));
      }
      return this.#reply(res, 415, status(415, "UnsupportedMediaType", `the fake apiserver does not support ${ct}`));
    }
    if (req.method === "DELETE") {
      const cur = this.objects.get(key!);
      if (!cur) return notFound();
      this.objects.delete(key!);
      return this.#reply(res, 200, {
        kind: "Status",
        apiVersion: "v1",
        status: "Success",
        details: { name: p.name, kind: p.resource.plural, uid: cur.metadata.uid },
      });
    }
    return this.#reply(res, 405, status(405, "MethodNotAllowed", `${req.method} not allowed`));
  }

  #sameResource(storeKey: string, p: ParsedPath): boolean {
    const r = p.resource;
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    return storeKey.startsWith(`${base}/namespaces/`) && storeKey.split("/").at(-2) === r.plural;
  }

  #watch(collection: string, req: RecordedRequest, res: ServerResponse): void {
    const script = this.#watchScripts.get(collection)?.shift();
    let started = false;
    const start = (): void => {
      if (started) return;
      started = true;
      res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
      res.flushHeaders();
    };
    const stream: WatchStream = {
      send: (type, object) => {
        start();
        res.write(`${JSON.stringify({ type, object })}\n`);
      },
      close: () => {
        this.#openStreams.delete(res);
        start();
        res.end();
      },
      fail: (code, reason) => {
        this.#openStreams.delete(res);
        this.#reply(res, code, status(code, reason, reason));
      },
    };
    this.#openStreams.add(res);
    res.on("close", () => this.#openStreams.delete(res));
    if (!script) {
      start(); // no script: an idle open stream, like a quiet apiserver
      return;
    }
    void Promise.resolve(script(stream, req)).catch(() => stream.close());
  }
}
