// What a controller sees at one of its evaluations. Each controller reads only the parts its real
// counterpart reads: the builtin loop scrapes the engines itself, KEDA and the HPA read Prometheus
// (one scrape interval behind), KubeAI counts in-flight requests in its own proxy.

export interface EngineMetrics {
  waiting: number;
  running: number;
  tokensPerSecond: number;
  kvCacheUsage: number;
  completedPerSecond: number;
}

export interface Observation {
  /** Seconds since the start of the replay. */
  now: number;
  /** spec.replicas (the scale subresource). */
  spec: number;
  ready: number;
  loading: number;
  /** Per ready replica, scraped now (the pool spreads load evenly, so every replica reads the same). */
  engine: EngineMetrics;
  /** The last Prometheus scrape: waiting requests summed over pods, and the pods that reported. */
  prom: { waitingSum: number; pods: number };
  /** In-flight requests (waiting + running), as a proxy in front of the engines counts them. */
  active: number;
  /** The measured cold start. */
  loadSeconds: number;
}

export interface Controller {
  readonly name: string;
  /** Seconds between evaluations. */
  readonly periodSeconds: number;
  /** The desired spec.replicas. */
  decide(o: Observation): number;
}

export interface Bounds {
  minReplicas: number;
  maxReplicas: number;
}
