// Reads each ready replica's leader pod's /metrics (the default source: no Prometheus needed) and
// keeps, per pod, the last good reading and the generation counter's previous value for its rate.
// A pod whose read fails keeps its last good reading until that is older than staleAfterMs; then
// it is "stale", and one never read is "missing": neither is ever taken for an idle engine.
import { counterRate, readEngine, type EngineKind, type EngineReading } from "./signals.ts";

export interface PodTarget {
  uid: string;
  name: string;
  /** The pod IP; the engine's HTTP port serves /metrics on it. */
  ip: string;
  port: number;
}

type SignalState = "fresh" | "stale" | "missing";

/** One replica's load as the autoscaler sees it. */
export interface PodSignal {
  uid: string;
  name: string;
  state: SignalState;
  waiting?: number;
  running?: number;
  /** Generated tokens per second; undefined until two readings of the counter exist. */
  tokensPerSecond?: number;
  kvCacheUsage?: number;
  /** Finished requests per second; undefined until two readings of the counter exist. */
  finishedPerSecond?: number;
  /** When the reading in use was taken. */
  readAtMs?: number;
  /** Why the last read failed, if it did. */
  error?: string;
}

interface Memory {
  reading: EngineReading;
  atMs: number;
  counter?: { value: number; atMs: number };
  tokensPerSecond?: number;
  finished?: { value: number; atMs: number };
  finishedPerSecond?: number;
}

export interface ScraperOptions {
  timeoutMs?: number;
  /** Injectable for tests; the global fetch (undici) otherwise. */
  fetch?: typeof fetch;
}

export class PodScraper {
  readonly #mem = new Map<string, Memory>();
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(o: ScraperOptions = {}) {
    this.#timeoutMs = o.timeoutMs ?? 5_000;
    this.#fetch = o.fetch ?? fetch;
  }

  /** Read every target at once; pods not among the targets are forgotten. */
  async read(targets: PodTarget[], engine: EngineKind, nowMs: number, staleAfterMs: number): Promise<PodSignal[]> {
    const keep = new Set(targets.map((t) => t.uid));
    for (const uid of this.#mem.keys()) if (!keep.has(uid)) this.#mem.delete(uid);
    return Promise.all(targets.map((t) => this.#readOne(t, engine, nowMs, staleAfterMs)));
  }

  async #readOne(t: PodTarget, engine: EngineKind, nowMs: number, staleAfterMs: number): Promise<PodSignal> {
    const prev = this.#mem.get(t.uid);
    let error: string;
    try {
      const host = t.ip.includes(":") ? `[${t.ip}]` : t.ip;
      const res = await this.#fetch(`http://${host}:${t.port}/metrics`, {
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const reading = readEngine(text, engine);
      const mem: Memory = { reading, atMs: nowMs };
      if (reading.genThroughput !== undefined) mem.tokensPerSecond = reading.genThroughput;
      else if (reading.generationTokensTotal !== undefined) {
        mem.counter = { value: reading.generationTokensTotal, atMs: nowMs };
        const rate = counterRate(prev?.counter, mem.counter);
        // Between two good readings; after a gap the previous rate stands until the next pair.
        mem.tokensPerSecond = rate ?? prev?.tokensPerSecond;
      } else if (engine === "sglang") {
        // SGLang counts tokens when a request finishes and has no series before the first one.
        mem.tokensPerSecond = 0;
      }
      if (reading.finishedTotal !== undefined) {
        mem.finished = { value: reading.finishedTotal, atMs: nowMs };
        const rate = counterRate(prev?.finished, mem.finished);
        const known = rate ?? prev?.finishedPerSecond;
        if (known !== undefined) mem.finishedPerSecond = known;
      }
      this.#mem.set(t.uid, mem);
      return signal(t, "fresh", mem);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (prev && nowMs - prev.atMs <= staleAfterMs) return { ...signal(t, "fresh", prev), error };
    return prev ? { ...signal(t, "stale", prev), error } : { uid: t.uid, name: t.name, state: "missing", error };
  }
}

function signal(t: PodTarget, state: SignalState, m: Memory): PodSignal {
  return {
    uid: t.uid,
    name: t.name,
    state,
    waiting: m.reading.waiting,
    running: m.reading.running,
    ...(m.tokensPerSecond !== undefined ? { tokensPerSecond: m.tokensPerSecond } : {}),
    ...(m.reading.kvCacheUsage !== undefined ? { kvCacheUsage: m.reading.kvCacheUsage } : {}),
    ...(m.finishedPerSecond !== undefined ? { finishedPerSecond: m.finishedPerSecond } : {}),
    readAtMs: m.atMs,
  };
}
