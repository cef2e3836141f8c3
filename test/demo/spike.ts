// The demo's autoscaling scene: open-loop load from the official openai client, spread over the engine
// pods that are Ready (Services have no endpoints on loopback pod IPs, see docs/cluster.md), with a
// timeline of what was sent, what waited in the engines and the replicas, sampled once a second.
import OpenAI from "openai";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";

const GROUP = { group: "serving.deepseek-operator.io", version: "v1alpha1", plural: "deepseekdeployments" };

export interface Sample {
  /** Seconds since the scene started. */
  t: number;
  /** Requests sent per second over the last sample. */
  load: number;
  /** vllm:num_requests_waiting summed over the ready engine pods, read from their /metrics. */
  queue: number;
  /** spec.replicas (what the autoscaler set). */
  desired: number;
  ready: number;
  /** Ready pods whose engine answered /health: the ones the load goes to. */
  serving: number;
}

export interface LoadStats {
  sent: number;
  ok: number;
  failed: number;
  errors: string[];
}

interface PodInfo {
  ip: string;
  ready: boolean;
}

/** Sends `rate()` requests per second (0 pauses) to the ready pods, round robin, until stopped; samples the timeline. */
export class SpikeScene {
  readonly samples: Sample[] = [];
  readonly stats: LoadStats = { sent: 0, ok: 0, failed: 0, errors: [] };
  rate = 0;
  #ips: string[] = [];
  #clients = new Map<string, OpenAI>();
  #inflight = new Set<Promise<void>>();
  #abort = new AbortController();
  #t0 = Date.now();
  #sentAtLastSample = 0;
  #stopped = false;
  #loops: Promise<void>[] = [];
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;

  readonly ns: string;
  readonly name: string;
  readonly model: string;
  readonly maxTokens: number;

  constructor(kc: KubeConfig, ns: string, name: string, model: string, maxTokens: number) {
    this.ns = ns;
    this.name = name;
    this.model = model;
    this.maxTokens = maxTokens;
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
  }

  elapsed(): number {
    return (Date.now() - this.#t0) / 1000;
  }

  start(): void {
    this.#loops.push(this.#sendLoop(), this.#sampleLoop());
  }

  /** The latest sample. */
  last(): Sample | undefined {
    return this.samples[this.samples.length - 1];
  }

  /** Stops sampling, aborts what is still in flight, and waits for both. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await Promise.allSettled([...this.#loops, ...this.#inflight]);
  }

  async #pods(): Promise<PodInfo[]> {
    const pods = await this.#core.listNamespacedPod({
      namespace: this.ns,
      labelSelector: `app.kubernetes.io/instance=${this.name}`,
    });
    return pods.items
      .filter((p) => !p.metadata?.deletionTimestamp && p.status?.podIP)
      .map((p) => ({
        ip: p.status!.podIP!,
        ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
      }));
  }

  #client(ip: string): OpenAI {
    let c = this.#clients.get(ip);
    if (!c) {
      c = new OpenAI({ baseURL: `http://${ip}:8000/v1`, apiKey: "unused", maxRetries: 0, timeout: 600_000 });
      this.#clients.set(ip, c);
    }
    return c;
  }

  #send(i: number): void {
    const ip = this.#ips[i % this.#ips.length];
    if (!ip) return;
    this.stats.sent++;
    const p: Promise<void> = this.#client(ip)
      .completions.create(
        { model: this.model, prompt: `demo request ${i}`, max_tokens: this.maxTokens },
        { signal: this.#abort.signal },
      )
      .then(
        () => void this.stats.ok++,
        (err: Error) => {
          if (this.#abort.signal.aborted) return;
          this.stats.failed++;
          if (this.stats.errors.length < 5) this.stats.errors.push(`${ip}: ${err.message}`);
        },
      )
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  // Open loop: a request every 1/rate s whether or not earlier ones finished (users do not wait for each other).
  async #sendLoop(): Promise<void> {
    let i = 0;
    let due = Date.now();
    while (!this.#stopped) {
      if (this.rate <= 0) {
        await sleep(100);
        due = Date.now();
        continue;
      }
      due += 1000 / this.rate;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (!this.#stopped) this.#send(i++);
    }
  }

  async #sampleLoop(): Promise<void> {
    let last = Date.now();
    while (!this.#stopped) {
      try {
        const pods = await this.#pods();
        const ready = pods.filter((p) => p.ready);
        // A Ready pod joins the rotation once its engine answers /health, as an Endpoint follows the readiness
        // probe: here KWOK marks a new pod Ready for a moment before the local runner has its simulator up.
        const healthy = new Set(this.#ips);
        await Promise.all(
          ready
            .filter((p) => !healthy.has(p.ip))
            .map(async (p) => {
              if (await health(p.ip)) healthy.add(p.ip);
            }),
        );
        this.#ips = ready.map((p) => p.ip).filter((ip) => healthy.has(ip));
        const queue = await Promise.all(ready.map((p) => waiting(p.ip)));
        const d = (await this.#custom.getNamespacedCustomObject({ ...GROUP, namespace: this.ns, name: this.name })) as {
          spec: { replicas?: number };
        };
        const now = Date.now();
        this.samples.push({
          t: Math.round(this.elapsed() * 10) / 10,
          load: Math.round(((this.stats.sent - this.#sentAtLastSample) / ((now - last) / 1000)) * 10) / 10,
          queue: queue.reduce((a, b) => a + b, 0),
          desired: d.spec.replicas ?? 0,
          ready: ready.length,
          serving: this.#ips.length,
        });
        this.#sentAtLastSample = this.stats.sent;
        last = now;
      } catch {
        // A read that failed (apiserver busy) leaves a gap in the timeline, nothing else.
      }
      await sleep(1000);
    }
  }
}

async function health(ip: string): Promise<boolean> {
  return fetch(`http://${ip}:8000/health`, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.status === 200,
    () => false,
  );
}

/** Requests waiting in one engine (all its data-parallel ranks), 0 if it does not answer. */
async function waiting(ip: string): Promise<number> {
  try {
    const text = await (await fetch(`http://${ip}:8000/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    let sum = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("vllm:num_requests_waiting{") || line.startsWith("vllm:num_requests_waiting "))
        sum += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
    }
    return sum;
  } catch {
    return 0;
  }
}
