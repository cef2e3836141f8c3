// A minimal kubelet for the harness: pods labelled sim.deepseek-operator.io/local=true (KWOK's stages
// skip them) run their container's command as a local process, with their env, their Secrets,
// their PVCs mapped to the PV's hostPath, and a token for their own ServiceAccount, so the real
// downloader runs with the RBAC the operator gave it, and the operator's own pods (from the Helm
// chart's Deployment) run with the release's. Exit codes flow back into the pod status, where the Job
// controller (and its podFailurePolicy) sees them; a long-running pod whose process ends is Failed and
// its ReplicaSet replaces it (no restarts in place).
//
// Each pod gets its own loopback address, standing in for its network namespace: its servers bind
// there (DSO_BIND_ADDRESS), so two replicas serve the same container ports side by side.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { mintServiceAccountKubeconfig } from "../e2e/lib/credentials.ts";
import { REPO_ROOT } from "../e2e/lib/paths.ts";

export const LOCAL_LABEL = "sim.deepseek-operator.io/local";
/** The bundle the image ships (`npm run build`), on the project's Node. */
export const SHIPPED_ENTRYPOINT = [process.execPath, join(REPO_ROOT, "dist", "main.js")];

interface Running {
  proc: ChildProcess;
  uid: string;
  ip?: string;
}

export interface LocalRunnerOptions {
  admin: KubeConfig;
  /**
   * Also serve engine pods: KWOK runs them (Ready, with a loopback pod IP); the runner starts the
   * engine simulator on that IP with the pod's own rendered command line, so clients and metrics
   * scrapers reach something that speaks vLLM/SGLang at the pod's address.
   */
  engines?: {
    loadSeconds: number;
    /** Extra simulator flags (e.g. --max-num-seqs, --tokens-per-second-per-seq) before the engine argv. */
    simArgs?: string[];
    /**
     * Play the kubelet's readiness probe: the pod is not Ready until the simulator answers /health 200,
     * so a new replica counts as loading for its load time (KWOK alone makes it Ready at once).
     */
    readyWhenUp?: boolean;
  };
  /** Where process logs and minted kubeconfigs go. */
  workDir: string;
  /**
   * What the image's `deepseek-operator` entry point is here; default ./bin/deepseek-operator (the
   * sources). SHIPPED_ENTRYPOINT runs the bundle in dist/ as the image does.
   */
  entrypoint?: string[];
  pollMs?: number;
  log?: (msg: string) => void;
}

export class LocalPodRunner {
  readonly #core: CoreV1Api;
  readonly #o: LocalRunnerOptions;
  readonly #running = new Map<string, Running>();
  readonly #done = new Set<string>();
  readonly #endedOutside = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #nextIp = 1;
  #busy = false;
  #stopped = false;

  constructor(o: LocalRunnerOptions) {
    this.#o = o;
    this.#core = o.admin.makeApiClient(CoreV1Api);
    mkdirSync(o.workDir, { recursive: true });
  }

  start(): void {
    this.#timer = setInterval(() => void this.#tick(), this.#o.pollMs ?? 500);
  }

  async stop(): Promise<void> {
    // A tick in flight must not launch anything after this.
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const r of this.#running.values()) r.proc.kill("SIGKILL");
    this.#running.clear();
  }

  /** Sends `signal` to the process of a running pod ("namespace/name"); false if none runs. */
  signal(key: string, signal: NodeJS.Signals): boolean {
    const r = this.#running.get(key);
    return r ? r.proc.kill(signal) : false;
  }

  /** Pods whose processes run now, by key. */
  running(): string[] {
    return [...this.#running.keys()];
  }

  /** Processes started so far, by pod key, for assertions. */
  started(): string[] {
    return [...this.#running.keys(), ...this.#done];
  }

  /** The running process of a pod (`namespace/name`), if any. */
  process(key: string): { pid: number; ip?: string } | undefined {
    const r = this.#running.get(key);
    return r?.proc.pid === undefined ? undefined : { pid: r.proc.pid, ip: r.ip };
  }

  /** Signals a pod's process, as its container dying would (SIGKILL: no graceful shutdown). */
  kill(key: string, signal: NodeJS.Signals): boolean {
    return this.#running.get(key)?.proc.kill(signal) ?? false;
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#stopped) return;
    this.#busy = true;
    try {
      const pods = await this.#core.listPodForAllNamespaces({ labelSelector: `${LOCAL_LABEL}=true` });
      const seen = new Set<string>();
      for (const pod of pods.items) {
        const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
        seen.add(key);
        if (pod.metadata!.deletionTimestamp) await this.#terminate(key, pod);
        else if (this.#running.has(key) && (pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded")) {
          // Ended from outside (a disruption written into its status, as a kubelet would after a
          // drain): the status written there stays as it is.
          this.#endedOutside.add(key);
          this.#running.get(key)!.proc.kill("SIGKILL");
        } else if (
          pod.spec?.nodeName &&
          !this.#running.has(key) &&
          !this.#done.has(key) &&
          (pod.status?.phase ?? "Pending") === "Pending"
        )
          await this.#launch(key, pod);
      }
      if (this.#o.engines) await this.#engines(seen);
      for (const [key, r] of this.#running) if (!seen.has(key)) r.proc.kill("SIGKILL");
    } catch (err) {
      this.#o.log?.(`local runner: ${(err as Error).message}`);
    } finally {
      this.#busy = false;
    }
  }

  async #engines(seen: Set<string>): Promise<void> {
    const pods = await this.#core.listPodForAllNamespaces({
      labelSelector: "app.kubernetes.io/component=engine,app.kubernetes.io/name=deepseek-engine",
    });
    for (const pod of pods.items) {
      const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
      const ip = pod.status?.podIP;
      if (pod.metadata!.deletionTimestamp || pod.status?.phase !== "Running" || !ip) continue;
      seen.add(key);
      if (this.#running.has(key) || this.#stopped) continue;
      const c = pod.spec!.containers[0]!;
      const argv = [
        join(REPO_ROOT, "bin", "deepseek-operator"),
        "simulate",
        "engine",
        "--host",
        ip,
        "--port",
        "8000",
        "--load-seconds",
        String(this.#o.engines!.loadSeconds),
        ...(this.#o.engines!.simArgs ?? []),
        "--",
        ...(c.command ?? []),
        ...(c.args ?? []),
      ];
      const out = openSync(join(this.#o.workDir, `${pod.metadata!.namespace}-${pod.metadata!.name}.engine.log`), "a");
      const proc = spawn(argv[0]!, argv.slice(1), {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
        stdio: ["ignore", out, out],
      });
      this.#running.set(key, { proc, uid: pod.metadata!.uid! });
      proc.on("exit", () => this.#running.delete(key));
      this.#o.log?.(`local runner: engine simulator for ${key} on ${ip}:8000`);
      if (this.#o.engines!.readyWhenUp) void this.#readiness(key, pod, ip);
    }
  }

  /** Engine pods by key (namespace/name) whose simulator runs now. */
  engines(): string[] {
    return [...this.#running.keys()];
  }

  /** Stop (SIGSTOP) or resume (SIGCONT) a pod's process: its /metrics stops answering, the pod stays Ready. */
  freeze(key: string, frozen: boolean): void {
    const r = this.#running.get(key);
    if (!r) throw new Error(`local runner: no process for ${key}`);
    r.proc.kill(frozen ? "SIGSTOP" : "SIGCONT");
  }

  async #readiness(key: string, pod: V1Pod, ip: string): Promise<void> {
    const set = (ready: boolean) => {
      const now = new Date().toISOString();
      const s = ready ? "True" : "False";
      return this.#status(pod, {
        conditions: [
          { type: "PodScheduled", status: "True", lastTransitionTime: pod.metadata!.creationTimestamp },
          { type: "Initialized", status: "True", lastTransitionTime: now },
          { type: "ContainersReady", status: s, lastTransitionTime: now },
          { type: "Ready", status: s, lastTransitionTime: now },
        ],
      });
    };
    try {
      await set(false);
      while (this.#running.has(key) && !this.#stopped) {
        const ok = await fetch(`http://${ip}:8000/health`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) return void (await set(true));
        await new Promise((r) => setTimeout(r, 500));
      }
    } catch (err) {
      this.#o.log?.(`local runner: readiness of ${key}: ${(err as Error).message}`);
    }
  }

  async #terminate(key: string, pod: V1Pod): Promise<void> {
    this.#running.get(key)?.proc.kill("SIGTERM");
    this.#running.delete(key);
    await this.#core
      .deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 0 })
      .catch(() => undefined);
  }

  async #hostPathOf(namespace: string, claim: string): Promise<string> {
    const pvc = await this.#core.readNamespacedPersistentVolumeClaim({ name: claim, namespace });
    const pvName = pvc.spec?.volumeName;
    if (!pvName) throw new Error(`PVC ${namespace}/${claim} is not bound`);
    const pv = await this.#core.readPersistentVolume({ name: pvName });
    const path = pv.spec?.hostPath?.path;
    if (!path) throw new Error(`PV ${pvName} has no hostPath`);
    mkdirSync(path, { recursive: true });
    return path;
  }

  async #env(ns: string, pod: V1Pod, c: V1Container): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef) {
        const s = await this.#core.readNamespacedSecret({ name: e.valueFrom.secretKeyRef.name!, namespace: ns });
        const v = s.data?.[e.valueFrom.secretKeyRef.key];
        if (v !== undefined) env[e.name] = Buffer.from(v, "base64").toString("utf8");
      } else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = pod.metadata!.name!;
      else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = ns;
    }
    return env;
  }

  async #launch(key: string, pod: V1Pod): Promise<void> {
    const ns = pod.metadata!.namespace!;
    const c = pod.spec!.containers[0]!;
    // Mount paths become host paths in the arguments: enough for the operator's own Jobs.
    const mounts: [string, string][] = [];
    for (const m of c.volumeMounts ?? []) {
      const vol = pod.spec!.volumes?.find((v) => v.name === m.name);
      if (vol?.persistentVolumeClaim)
        mounts.push([m.mountPath, await this.#hostPathOf(ns, vol.persistentVolumeClaim.claimName)]);
      else if (vol?.emptyDir) {
        const dir = join(this.#o.workDir, "emptydir", pod.metadata!.uid!, m.name);
        mkdirSync(dir, { recursive: true });
        mounts.push([m.mountPath, dir]);
      }
    }
    const mapPath = (a: string) => {
      for (const [from, to] of mounts) if (a === from || a.startsWith(`${from}/`)) return to + a.slice(from.length);
      return a;
    };
    const argv = [...(c.command ?? []), ...(c.args ?? [])].map(mapPath);
    if (argv[0] === "deepseek-operator")
      argv.splice(0, 1, ...(this.#o.entrypoint ?? [join(REPO_ROOT, "bin", "deepseek-operator")]));
    const env = await this.#env(ns, pod, c);
    for (const k of Object.keys(env)) env[k] = mapPath(env[k]!);
    const sa = pod.spec!.serviceAccountName ?? "default";
    const creds = await mintServiceAccountKubeconfig({
      namespace: ns,
      serviceAccount: sa,
      create: false,
      admin: this.#o.admin,
    });
    const kubeconfig = join(this.#o.workDir, `${ns}-${pod.metadata!.name}.kubeconfig`);
    writeFileSync(kubeconfig, creds.kubeconfigYaml);
    if (this.#stopped) return;
    const ip = `127.65.${Math.floor(this.#nextIp / 250)}.${(this.#nextIp++ % 250) + 1}`;
    const now = new Date().toISOString();
    await this.#status(pod, {
      phase: "Running",
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: "127.0.0.1",
      startTime: now,
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: now },
        { type: "Initialized", status: "True", lastTransitionTime: now },
        { type: "ContainersReady", status: "True", lastTransitionTime: now },
        { type: "Ready", status: "True", lastTransitionTime: now },
      ],
      containerStatuses: [
        {
          name: c.name,
          image: c.image ?? "",
          imageID: "",
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: now } },
        },
      ],
    });
    const log = join(this.#o.workDir, `${ns}-${pod.metadata!.name}.log`);
    const out = openSync(log, "a");
    const proc = spawn(argv[0]!, argv.slice(1), {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        ...env,
        KUBECONFIG: kubeconfig,
        POD_NAME: pod.metadata!.name!,
        POD_NAMESPACE: ns,
        DSO_BIND_ADDRESS: ip,
      },
      stdio: ["ignore", out, out],
    });
    this.#running.set(key, { proc, uid: pod.metadata!.uid!, ip });
    this.#o.log?.(`local runner: started ${key}: ${argv.join(" ")}`);
    proc.on("exit", (code, signal) => {
      this.#running.delete(key);
      this.#done.add(key);
      const exitCode = code ?? (signal ? 137 : 1);
      if (this.#endedOutside.has(key)) return;
      const end = new Date().toISOString();
      void this.#status(pod, {
        phase: exitCode === 0 ? "Succeeded" : "Failed",
        conditions: [
          { type: "Ready", status: "False", reason: "PodCompleted", lastTransitionTime: end },
          { type: "ContainersReady", status: "False", reason: "PodCompleted", lastTransitionTime: end },
        ],
        containerStatuses: [
          {
            name: c.name,
            image: c.image ?? "",
            imageID: "",
            ready: false,
            restartCount: 0,
            started: false,
            state: {
              terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt: now, finishedAt: end },
            },
          },
        ],
      }).catch((err: Error) => this.#o.log?.(`local runner: status of ${key}: ${err.message}`));
      this.#o.log?.(`local runner: ${key} exited ${exitCode}`);
    });
  }

  async #status(pod: V1Pod, status: Record<string, unknown>): Promise<void> {
    await this.#core.patchNamespacedPodStatus(
      { name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { status } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }
}
