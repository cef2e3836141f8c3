// `deepseek-operator run`: the operator process. Every flag also reads from the environment, so
// the Helm chart configures it with env vars and a developer with flags.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { CoordinationV1Api, EventsV1Api, KubeConfig } from "@kubernetes/client-node";
import { createManager } from "../controller/manager.ts";
import { LeaderElector } from "../controller/runtime/leader.ts";
import { KubeLeaseLock } from "../controller/runtime/leaselock.ts";
import { EventRecorder, KubeEventSink } from "../controller/runtime/events.ts";
import { HealthProbes, informersLive, informersSynced, leaderWorking } from "../controller/runtime/health.ts";
import type { WriteFence } from "../controller/runtime/fence.ts";
import { rootLogger, setLogLevel } from "../util/log.ts";
import { CliError } from "./errors.ts";
import { DEFAULT_TOKEN_POLICY, parseOrigins, type DownloadNetwork, type TokenPolicy } from "../render/index.ts";
import { downloadNetworkFromFlags } from "../render/network.ts";

const env = process.env;

function parseBool(name: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined || v === "") return dflt;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new CliError(`${name}: expected true or false, got "${v}"`);
}

function parsePort(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${name}: expected a port number, got "${v}"`);
  return n;
}

function parseMap(name: string, v: string | undefined): Record<string, string> {
  if (!v) return {};
  try {
    const o = JSON.parse(v) as unknown;
    if (o && typeof o === "object" && !Array.isArray(o) && Object.values(o).every((x) => typeof x === "string"))
      return o as Record<string, string>;
  } catch {
    /* reported below */
  }
  throw new CliError(`${name}: expected a JSON object of strings, e.g. {"sidecar.istio.io/inject":"false"}`);
}

function tokenPolicyFlags(tokenEndpoints: string, plainHttp: string): TokenPolicy {
  try {
    return {
      tokenOrigins: parseOrigins(tokenEndpoints, "--token-endpoints"),
      plainHttpOrigins: parseOrigins(plainHttp, "--plain-http-endpoints"),
    };
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

function networkFlags(
  f: Record<"job-https-proxy" | "job-http-proxy" | "job-no-proxy" | "job-ca-configmap" | "job-ca-key", string>,
): {
  network?: DownloadNetwork;
} {
  try {
    const network = downloadNetworkFromFlags({
      httpsProxy: f["job-https-proxy"],
      httpProxy: f["job-http-proxy"],
      noProxy: f["job-no-proxy"],
      caConfigMap: f["job-ca-configmap"],
      caKey: f["job-ca-key"],
    });
    return network ? { network } : {};
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

const USAGE = `usage: deepseek-operator run [flags]

  --kubeconfig PATH           kubeconfig to use (env KUBECONFIG; in-cluster config when unset)
  --namespaces a,b            namespaces to watch (env DSO_WATCH_NAMESPACES; all when empty)
  --leader-elect BOOL         run leader election (env DSO_LEADER_ELECT; default true)
  --leader-election-namespace namespace of the Lease (env DSO_LEADER_ELECTION_NAMESPACE; default: in-cluster namespace or "default")
  --leader-election-id NAME   Lease name (env DSO_LEADER_ELECTION_ID; default deepseek-operator)
  --metrics-port N            /metrics port (env DSO_METRICS_PORT; default 8080)
  --health-port N             /healthz and /readyz port (env DSO_HEALTH_PORT; default 8081)
  --bind-address ADDR         address to serve on (env DSO_BIND_ADDRESS; default 0.0.0.0)
  --workers N                 concurrent reconciles (env DSO_WORKERS; default 16)
  --operator-image IMAGE      image for download Jobs (env DSO_OPERATOR_IMAGE)
  --job-pod-labels JSON       extra labels on Job pods (env DSO_JOB_POD_LABELS)
  --job-pod-annotations JSON  extra annotations on Job pods (env DSO_JOB_POD_ANNOTATIONS)
  --token-endpoints URLS      comma-separated origins a download token may be sent to (env DSO_TOKEN_ENDPOINTS;
                              default https://huggingface.co)
  --plain-http-endpoints URLS of those, origins allowed over plain http (env DSO_PLAIN_HTTP_ENDPOINTS; default none)
  --allowed-image-prefixes P  comma-separated prefixes spec.engine.image must start with (env DSO_ALLOWED_IMAGE_PREFIXES;
                              default: any image)
  --job-https-proxy URL       HTTPS_PROXY of download Jobs (env DSO_JOB_HTTPS_PROXY; default none)
  --job-http-proxy URL        HTTP_PROXY of download Jobs (env DSO_JOB_HTTP_PROXY; default none)
  --job-no-proxy HOSTS        NO_PROXY of download Jobs, comma-separated (env DSO_JOB_NO_PROXY)
  --job-ca-configmap NAME     ConfigMap (in each deployment's namespace) with extra CAs for download Jobs
                              (env DSO_JOB_CA_CONFIGMAP; default none)
  --job-ca-key KEY            its key holding the PEM bundle (env DSO_JOB_CA_KEY; default ca.crt)
  --log-level LEVEL           trace|debug|info|warn|error (env LOG_LEVEL; default info)
`;

const OPTIONS = {
  kubeconfig: { type: "string", default: env.KUBECONFIG ?? "" },
  namespaces: { type: "string", default: env.DSO_WATCH_NAMESPACES ?? "" },
  "leader-elect": { type: "string", default: env.DSO_LEADER_ELECT ?? "true" },
  "leader-election-namespace": { type: "string", default: env.DSO_LEADER_ELECTION_NAMESPACE ?? "" },
  "leader-election-id": { type: "string", default: env.DSO_LEADER_ELECTION_ID ?? "deepseek-operator" },
  "metrics-port": { type: "string", default: env.DSO_METRICS_PORT ?? "8080" },
  "health-port": { type: "string", default: env.DSO_HEALTH_PORT ?? "8081" },
  "bind-address": { type: "string", default: env.DSO_BIND_ADDRESS ?? "0.0.0.0" },
  workers: { type: "string", default: env.DSO_WORKERS ?? "16" },
  "operator-image": {
    type: "string",
    default: env.DSO_OPERATOR_IMAGE ?? "ghcr.io/deepseek-operator/deepseek-operator:0.1.0",
  },
  "job-pod-labels": { type: "string", default: env.DSO_JOB_POD_LABELS ?? "" },
  "job-pod-annotations": { type: "string", default: env.DSO_JOB_POD_ANNOTATIONS ?? "" },
  "token-endpoints": {
    type: "string",
    default: env.DSO_TOKEN_ENDPOINTS ?? DEFAULT_TOKEN_POLICY.tokenOrigins.join(","),
  },
  "plain-http-endpoints": { type: "string", default: env.DSO_PLAIN_HTTP_ENDPOINTS ?? "" },
  "allowed-image-prefixes": { type: "string", default: env.DSO_ALLOWED_IMAGE_PREFIXES ?? "" },
  "job-https-proxy": { type: "string", default: env.DSO_JOB_HTTPS_PROXY ?? "" },
  "job-http-proxy": { type: "string", default: env.DSO_JOB_HTTP_PROXY ?? "" },
  "job-no-proxy": { type: "string", default: env.DSO_JOB_NO_PROXY ?? "" },
  "job-ca-configmap": { type: "string", default: env.DSO_JOB_CA_CONFIGMAP ?? "" },
  "job-ca-key": { type: "string", default: env.DSO_JOB_CA_KEY ?? "ca.crt" },
  "log-level": { type: "string", default: env.LOG_LEVEL ?? "info" },
  help: { type: "boolean", short: "h", default: false },
} as const;

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export async function main(argv: string[]): Promise<number> {
  let f;
  try {
    f = parseArgs({ args: argv, options: OPTIONS, strict: true }).values;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (f.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  setLogLevel(f["log-level"]);
  const workers = Number(f.workers);
  if (!Number.isInteger(workers) || workers < 1)
    throw new CliError(`--workers: expected a positive integer, got "${f.workers}"`);
  const leaderElect = parseBool("--leader-elect", f["leader-elect"], true);
  const identity = env.POD_NAME ?? `${hostname()}-${process.pid}`;
  const log = rootLogger.child({ identity });
  const kc = loadKubeConfig(f.kubeconfig);
  const namespaces = f.namespaces
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bindAddress = f["bind-address"];

  const manager = await createManager({
    kc,
    namespaces,
    jobs: {
      image: f["operator-image"],
      podLabels: parseMap("--job-pod-labels", f["job-pod-labels"]),
      podAnnotations: parseMap("--job-pod-annotations", f["job-pod-annotations"]),
      tokenPolicy: tokenPolicyFlags(f["token-endpoints"], f["plain-http-endpoints"]),
      allowedImagePrefixes: f["allowed-image-prefixes"]
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
      ...networkFlags(f),
    },
    workers,
    metricsPort: parsePort("--metrics-port", f["metrics-port"]),
    healthPort: parsePort("--health-port", f["health-port"]),
    bindAddress,
    log,
  });
  const eventRecorder = (fence?: WriteFence) => {
    return new EventRecorder({
      sink: new KubeEventSink(kc.makeApiClient(EventsV1Api), manager.metrics, undefined, fence),
      reportingInstance: identity,
      metrics: manager.metrics,
      log,
    });
  };
  let elector: LeaderElector | undefined;
  const shouldWork = () => elector?.isLeader() ?? !leaderElect;
  // Ready once the caches are filled and, on the leader, the controllers run; unhealthy when a watch
  // has been dead for 5 minutes (client-node streams can wedge and a restart is the cure) or the
  // leader's controllers have not started within 5 minutes (their start gives up after 2). A
  // follower has no informers: it is ready and healthy, waiting for the lease.
  const health = await new HealthProbes(log)
    .addReadyzCheck(
      "informers-synced",
      informersSynced(() => manager.informers()),
    )
    .addReadyzCheck("controllers", leaderWorking({ shouldWork, working: () => manager.working(), graceMs: 0 }))
    .addHealthzCheck(
      "watches-live",
      informersLive(() => manager.informers(), 5 * 60_000),
    )
    .addHealthzCheck(
      "controllers",
      leaderWorking({ shouldWork, working: () => manager.working(), graceMs: 5 * 60_000 }),
    )
    .serve({ port: parsePort("--health-port", f["health-port"]), host: bindAddress });

  const stop = new AbortController();
  let exitCode = 0;
  const shutdown = (signal: string) => {
    if (stop.signal.aborted) return;
    log.info({ signal }, "shutting down");
    stop.abort();
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));

  if (leaderElect) {
    const ns = f["leader-election-namespace"] || inClusterNamespace() || "default";
    elector = new LeaderElector({
      lock: new KubeLeaseLock(
        kc.makeApiClient(CoordinationV1Api),
        ns,
        f["leader-election-id"],
        identity,
        manager.metrics,
      ),
      name: f["leader-election-id"],
      metrics: manager.metrics,
      log,
      callbacks: {
        // Work stops before the lease is released, so a successor never overlaps with us. Every
        // write goes through the fence, so none starts once the lease may be someone else's.
        onStartedLeading: async (leading, fence) => {
          log.info("became leader; starting controllers");
          const events = eventRecorder(fence);
          try {
            await manager.startWork(events, fence);
          } catch (err) {
            // A leader that cannot work gives the lease up (the elector releases it once this rejects).
            await manager.stopWork(0);
            throw err;
          }
          await new Promise<void>((resolve) => leading.addEventListener("abort", () => resolve(), { once: true }));
          await manager.stopWork(stop.signal.aborted ? undefined : 0);
          await events.flush();
        },
        onStoppedLeading: (end) => {
          // As controller-runtime does: a replica that lost the lease, or whose controllers
          // failed, exits, so it can never reconcile alongside the new leader; the Deployment
          // restarts it as a follower.
          if (end !== "stopped") {
            log.error({ end }, end === "lost" ? "lost the leader lease; exiting" : "the controllers failed; exiting");
            exitCode = 1;
            stop.abort();
          }
        },
      },
    });
    await elector.run(stop.signal).catch((err: unknown) => {
      log.error({ err }, "gave up the leader lease");
      exitCode = 1;
    });
  } else {
    await manager.startWork(eventRecorder());
    await new Promise<void>((resolve) => stop.signal.addEventListener("abort", () => resolve(), { once: true }));
    await manager.stopWork();
  }
  await Promise.all([health.close(), ...manager.servers.map((s) => s.close())]);
  log.info({ exitCode }, "stopped");
  return exitCode;
}

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim();
  } catch {
    return undefined;
  }
}
