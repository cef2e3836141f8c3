// Connection reuse for every client made from one KubeConfig.
//
// client-node 2.x builds a new undici Agent inside KubeConfig.applySecurityAuthentication, i.e. for every
// request of every generated API, KubernetesObjectApi and Watch. A new Agent has no pooled socket, so each
// request pays a TCP connect and a full TLS handshake (on both ends: the apiserver's CPU is the scarce resource in
// a busy cluster), and the idle socket lingers until its keep-alive timer closes it: under load the operator held
// ~160 sockets to the apiserver. client-node itself caches its https.Agent per cluster/user for WebSockets; this
// does the same for the undici dispatcher, keyed by the exact connect options client-node computed for the request
// (CA, client certificate/key, servername, rejectUnauthorized), so rotated TLS material gets a new pool rather than
// a stale one.
import { createHash } from "node:crypto";
import type { KubeConfig, RequestContext } from "@kubernetes/client-node";
// The same undici client-node builds its Agents from (package.json pins the version it resolves to).
import { Agent } from "undici";

const shared = new WeakSet<KubeConfig>();

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/** undici keeps an Agent's options under a private symbol named "options"; undefined if that ever changes. */
function connectOptionsOf(d: Dispatcher): Record<string, unknown> | undefined {
  // Proxies and custom dispatchers: leave as built. An instanceof test, not the class's name: a minified
  // bundle renames classes (and once silently turned this pooling off: a TLS handshake per request).
  if (!(d instanceof Agent)) return undefined;
  const sym = Object.getOwnPropertySymbols(d).find((s) => s.description === "options");
  const opts = sym ? (d as unknown as Record<symbol, { connect?: unknown }>)[sym] : undefined;
  return opts && typeof opts.connect === "object" && opts.connect !== null
    ? (opts.connect as Record<string, unknown>)
    : undefined;
}

/** A digest of the connect options (buffers hashed, so key material is not kept as a map key). */
function keyOf(connect: Record<string, unknown>): string {
  const h = createHash("sha256");
  for (const k of Object.keys(connect).sort()) {
    const v = connect[k];
    h.update(k).update("\0");
    if (Buffer.isBuffer(v)) h.update(v);
    else if (Array.isArray(v)) for (const x of v) h.update(Buffer.isBuffer(x) ? x : String(x)).update("\0");
    else h.update(JSON.stringify(v) ?? "undefined");
    h.update("\0");
  }
  return h.digest("hex");
}

/**
 * Make every request of every client built from `kc` (before or after this call: they all call back into `kc`)
 * use one pooled dispatcher per distinct TLS identity. Idempotent. Exported for tests and for callers that build
 * generated-API clients without an ApplyClient.
 */
export function shareConnections(kc: KubeConfig): void {
  if (shared.has(kc)) return;
  shared.add(kc);
  const pools = new Map<string, Dispatcher>();
  const original = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (ctx: RequestContext) => {
    await original(ctx);
    const fresh = ctx.getDispatcher();
    const connect = fresh ? connectOptionsOf(fresh) : undefined;
    if (!fresh || !connect) return;
    const key = keyOf(connect);
    const pool = pools.get(key);
    if (pool) ctx.setDispatcher(pool);
    else pools.set(key, fresh); // the fresh Agent has opened nothing yet: it becomes the pool
  };
}
