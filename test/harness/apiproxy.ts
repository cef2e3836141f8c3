// A recording, fault-injecting HTTP proxy between one operator process and the kube-apiserver, on
// 127.0.0.1. The operator talks plain HTTP to it with its own bearer token; the proxy forwards each
// request over TLS and streams the answer back (watches included). It records every request with its
// arrival time, so a test knows which process wrote what and when (an audit by process), and a test
// can make chosen requests fail, hang, or see a watch go silent or answer 410.
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Agent, request } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { loadKubeConfig } from "../e2e/lib/kube.ts";

export interface ProxiedRequest {
  at: number;
  method: string;
  path: string;
  query: URLSearchParams;
  watch: boolean;
}

/**
 * What to do with one request: forward it; answer with a status; hold it unanswered (until released);
 * forward a watch but pass none of its data on (a silent stream); or answer a watch with a 410 ERROR event.
 */
export type Fault = "pass" | "hang" | "silent" | "gone" | { status: number; reason: string };

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiProxy {
  readonly requests: ProxiedRequest[] = [];
  fault: (r: ProxiedRequest) => Fault = () => "pass";
  readonly #upstream: URL;
  readonly #agent: Agent;
  #server: Server | undefined;
  #held = new Set<() => void>();
  #streams = new Set<{ rec: ProxiedRequest; silence: () => void; end: () => void }>();
  #sockets = new Set<Socket>();

  constructor() {
    const cluster = loadKubeConfig().getCurrentCluster();
    if (!cluster) throw new Error("admin kubeconfig has no current cluster");
    this.#upstream = new URL(cluster.server);
    const ca = cluster.caData ? Buffer.from(cluster.caData, "base64") : readFileSync(cluster.caFile!);
    this.#agent = new Agent({ ca, keepAlive: true });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on("connection", (s) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.releaseHeld();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
    this.#agent.destroy();
  }

  /** Answer every held request (forwarding it). */
  releaseHeld(): void {
    for (const release of [...this.#held]) release();
  }

  /** Make the open watch streams that match go silent: they stay open and pass nothing on. */
  silenceWatches(match: (r: ProxiedRequest) => boolean): number {
    const hit = [...this.#streams].filter((s) => match(s.rec));
    for (const s of hit) s.silence();
    return hit.length;
  }

  /** End the open watch streams that match, as an apiserver ends a watch at its timeout. */
  endWatches(match: (r: ProxiedRequest) => boolean): number {
    const hit = [...this.#streams].filter((s) => match(s.rec));
    for (const s of hit) s.end();
    return hit.length;
  }

  /** Writes (not Lease renewals unless asked) this proxy passed on since `since`. */
  writes(opts: { since?: number; leases?: boolean } = {}): ProxiedRequest[] {
    return this.requests.filter(
      (r) =>
        WRITE_METHODS.has(r.method) &&
        r.at >= (opts.since ?? 0) &&
        (opts.leases || !r.path.includes("/coordination.k8s.io/")),
    );
  }

  /** A copy of `kubeconfigPath` (the operator's identity) that goes through this proxy. */
  writeKubeconfig(kubeconfigPath: string, out: string): string {
    const kc = JSON.parse(readFileSync(kubeconfigPath, "utf8")) as {
      clusters: { cluster: Record<string, unknown> }[];
    };
    for (const c of kc.clusters) c.cluster = { server: this.url, "insecure-skip-tls-verify": true };
    writeFileSync(out, JSON.stringify(kc, null, 2), { mode: 0o600 });
    return out;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://proxy");
    const rec: ProxiedRequest = {
      at: Date.now(),
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      watch: url.searchParams.get("watch") === "true",
    };
    this.requests.push(rec);
    const fault = this.fault(rec);
    if (fault === "hang") {
      const release = (): void => {
        this.#held.delete(release);
        this.#forward(req, res, false, rec);
      };
      this.#held.add(release);
      res.on("close", () => this.#held.delete(release));
      return;
    }
    if (fault === "gone") {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      const status = { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410 };
      res.end(`${JSON.stringify({ type: "ERROR", object: { ...status, message: "too old resource version" } })}\n`);
      return;
    }
    if (typeof fault === "object") {
      req.resume();
      res.writeHead(fault.status, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: fault.reason,
          code: fault.status,
        }),
      );
      return;
    }
    this.#forward(req, res, fault === "silent", rec);
  }

  #forward(req: IncomingMessage, res: ServerResponse, silent: boolean, rec?: ProxiedRequest): void {
    const up = request(
      {
        protocol: this.#upstream.protocol,
        hostname: this.#upstream.hostname,
        port: this.#upstream.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: this.#upstream.host },
        agent: this.#agent,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (silent) {
          res.flushHeaders();
          upRes.resume(); // the apiserver's events go nowhere: the stream looks alive and says nothing
          res.on("close", () => upRes.destroy());
          return;
        }
        upRes.pipe(res);
        if (rec?.watch) {
          const stream = {
            rec,
            silence: () => {
              upRes.unpipe(res);
              upRes.resume();
            },
            end: () => {
              upRes.unpipe(res);
              upRes.destroy();
              res.end();
            },
          };
          this.#streams.add(stream);
          res.on("close", () => this.#streams.delete(stream));
        }
      },
    );
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on("close", () => {
      if (!res.writableFinished) up.destroy(); // the operator gave up (a watch it recycled, an aborted write)
    });
    req.pipe(up);
  }
}
