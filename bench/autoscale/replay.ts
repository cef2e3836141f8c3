// The discrete-time replay: one-second steps of arrivals, engine work and replica lifecycle, with each
// controller evaluated on its own period against the same capacity model.
import { Cluster } from "./cluster.ts";
import { EnginePool, REPLICA } from "./capacity.ts";
import type { Controller, EngineMetrics, Observation } from "./observation.ts";
import type { Trace } from "./traces.ts";

/** Prometheus scrape interval the KEDA and HPA paths read through. */
export const SCRAPE_SECONDS = 15;
/** Engines report throughput as a rate over this many seconds. */
const RATE_WINDOW = 30;
/** One point of the plotted series every this many seconds. */
export const SERIES_STEP = 60;

export interface RunResult {
  policy: string;
  violations: number;
  excessSeconds: number;
  gpuHours: number;
  reversals: number;
  scaleEvents: number;
  requests: number;
  /** Every SERIES_STEP seconds: spec replicas, ready replicas, waiting requests. */
  replicas: number[];
  ready: number[];
  queue: number[];
}

export interface ReplayOptions {
  loadSeconds: number;
  initialReplicas: number;
  waitTargetSeconds: number;
}

export function replay(trace: Trace, controller: Controller, o: ReplayOptions): RunResult {
  const pool = new EnginePool(o.waitTargetSeconds);
  const cluster = new Cluster(o.loadSeconds, REPLICA.gpus, o.initialReplicas);
  const seconds = trace.count.length;
  const genRing = new Float64Array(RATE_WINDOW);
  const doneRing = new Float64Array(RATE_WINDOW);
  let genSum = 0;
  let doneSum = 0;
  let prom = { waitingSum: 0, pods: o.initialReplicas };
  const result: RunResult = {
    policy: controller.name,
    violations: 0,
    excessSeconds: 0,
    gpuHours: 0,
    reversals: 0,
    scaleEvents: 0,
    requests: 0,
    replicas: [],
    ready: [],
    queue: [],
  };
  for (let t = 0; t < seconds; t++) {
    pool.arrive(t, trace.count[t]!, trace.prompt[t]!, trace.output[t]!);
    result.requests += trace.count[t]!;
    const ready = cluster.ready(t);
    const step = pool.step(t, 1, ready);
    const slot = t % RATE_WINDOW;
    genSum += step.generated - genRing[slot]!;
    doneSum += step.completed - doneRing[slot]!;
    genRing[slot] = step.generated;
    doneRing[slot] = step.completed;
    if (t % SCRAPE_SECONDS === 0) prom = { waitingSum: pool.waiting, pods: ready };
    if (t % controller.periodSeconds === 0) {
      const per = Math.max(1, ready);
      const window = Math.min(RATE_WINDOW, t + 1);
      const engine: EngineMetrics = {
        waiting: pool.waiting / per,
        running: pool.running / per,
        tokensPerSecond: genSum / window / per,
        kvCacheUsage: pool.kvUsage(ready),
        completedPerSecond: doneSum / window / per,
      };
      const view: Observation = {
        now: t,
        spec: cluster.spec,
        ready,
        loading: cluster.spec - ready,
        engine,
        prom,
        active: pool.waiting + pool.running,
        loadSeconds: o.loadSeconds,
      };
      cluster.scale(t, controller.decide(view));
    }
    cluster.account(1);
    if (t % SERIES_STEP === 0) {
      result.replicas.push(cluster.spec);
      result.ready.push(cluster.ready(t));
      result.queue.push(pool.waiting);
    }
  }
  pool.closeOut(seconds);
  result.violations = pool.violations;
  result.excessSeconds = pool.excessSeconds;
  result.gpuHours = cluster.gpuSeconds / 3600;
  result.reversals = cluster.reversals(o.loadSeconds);
  result.scaleEvents = cluster.events.length;
  return result;
}
