// The replicas of one deployment as the workload controller runs them: a scale-up creates replicas
// that hold their GPUs while they load for the cold-start time; a scale-down removes replicas that are
// still loading first (as a ReplicaSet ranks not-ready pods for deletion before ready ones), then ready ones.
export interface Replica {
  createdAt: number;
  readyAt: number;
}

export class Cluster {
  replicas: Replica[] = [];
  gpuSeconds = 0;
  /** Scale events: [time, from, to]. */
  events: Array<[number, number, number]> = [];

  readonly loadSeconds: number;
  readonly gpusPerReplica: number;

  constructor(loadSeconds: number, gpusPerReplica: number, initial: number) {
    this.loadSeconds = loadSeconds;
    this.gpusPerReplica = gpusPerReplica;
    // The replay starts warm: the initial replicas finished loading before t = 0.
    for (let i = 0; i < initial; i++) this.replicas.push({ createdAt: -loadSeconds, readyAt: 0 });
  }

  get spec(): number {
    return this.replicas.length;
  }

  ready(now: number): number {
    let n = 0;
    for (const r of this.replicas) if (r.readyAt <= now) n++;
    return n;
  }

  scale(now: number, to: number): void {
    const from = this.replicas.length;
    if (to === from) return;
    this.events.push([now, from, to]);
    while (this.replicas.length < to) this.replicas.push({ createdAt: now, readyAt: now + this.loadSeconds });
    if (this.replicas.length > to) {
      this.replicas.sort((a, b) => b.readyAt - a.readyAt);
      this.replicas.splice(0, this.replicas.length - to);
    }
  }

  account(dt: number): void {
    this.gpuSeconds += this.replicas.length * this.gpusPerReplica * dt;
  }

  /** Direction changes that come less than `window` seconds after the previous scale event. */
  reversals(window: number): number {
    let n = 0;
    for (let i = 1; i < this.events.length; i++) {
      const [t0, a0, b0] = this.events[i - 1]!;
      const [t1, a1, b1] = this.events[i]!;
      if (Math.sign(b0 - a0) !== Math.sign(b1 - a1) && t1 - t0 < window) n++;
    }
    return n;
  }
}
