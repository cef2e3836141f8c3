// The engine capacity model the replay runs every policy against: a fluid version of the engine
// simulator's continuous-batching scheduler (operator/src/sim/engine/scheduler.ts), pooled over the
// ready replicas behind one Service. Requests arrive in per-second cohorts, wait FIFO, are admitted
// while running slots are free, prefill on a shared per-rank budget, then decode at the simulator's
// batch-dependent speed.

/**
 * One replica as the operator lays out V4-Flash on 4 GPUs (vLLM DP4 + EP), with the simulator's
 * defaults: --max-num-seqs 64 per DP rank (config.ts DEFAULT_MAX_SEQS_PER_RANK), 60 tokens/s for a
 * sequence alone, 2 % decode slowdown per extra running sequence, 8000 prompt tokens/s per rank
 * (server.ts startEngineSimulator defaults), and a KV pool of max(64 × 4096, 1,048,576) tokens per rank.
 */
export const REPLICA = {
  gpus: 4,
  ranks: 4,
  maxSeqsPerRank: 64,
  tokensPerSecondPerSeq: 60,
  batchSlowdown: 0.02,
  prefillTokensPerSecondPerRank: 8000,
  kvTokensPerRank: 1_048_576,
} as const;

export const SLOTS_PER_REPLICA = REPLICA.ranks * REPLICA.maxSeqsPerRank;

/** Decode speed of one sequence when `perRank` sequences run on its rank (scheduler.ts step time). */
export function decodeSpeed(perRank: number): number {
  return REPLICA.tokensPerSecondPerSeq / (1 + REPLICA.batchSlowdown * Math.max(0, perRank - 1));
}

/** Requests/s one replica sustains when full, for a mix of mean prompt and output lengths. */
export function replicaRequestRate(prompt: number, output: number): number {
  const prefillBound = (REPLICA.ranks * REPLICA.prefillTokensPerSecondPerRank) / prompt;
  const decodeBound = (SLOTS_PER_REPLICA * decodeSpeed(REPLICA.maxSeqsPerRank)) / output;
  return Math.min(prefillBound, decodeBound);
}

interface Waiting {
  arrival: number;
  count: number;
  prompt: number;
  output: number;
}

interface Running {
  count: number;
  prompt: number;
  output: number;
  prefillLeft: number;
  outLeft: number;
}

export interface StepResult {
  generated: number;
  completed: number;
}

export class EnginePool {
  #queue: Waiting[] = [];
  #head = 0;
  #running: Running[] = [];
  #runningCount = 0;
  #waitingCount = 0;
  /** Requests whose queue wait exceeded the target, and the seconds above it, summed. */
  violations = 0;
  excessSeconds = 0;
  admitted = 0;

  readonly waitTargetSeconds: number;

  constructor(waitTargetSeconds: number) {
    this.waitTargetSeconds = waitTargetSeconds;
  }

  get waiting(): number {
    return this.#waitingCount;
  }

  get running(): number {
    return this.#runningCount;
  }

  arrive(now: number, count: number, prompt: number, output: number): void {
    if (count <= 0) return;
    this.#queue.push({ arrival: now, count, prompt, output });
    this.#waitingCount += count;
  }

  /** KV tokens held by running sequences over the pool of `ready` replicas, 0..1. */
  kvUsage(ready: number): number {
    if (ready === 0) return 0;
    let held = 0;
    for (const r of this.#running) held += r.count * (r.prompt + r.output - Math.max(0, r.outLeft));
    return held / (ready * REPLICA.ranks * REPLICA.kvTokensPerRank);
  }

  step(now: number, dt: number, ready: number): StepResult {
    this.#admit(now, ready);
    if (ready === 0) return { generated: 0, completed: 0 };
    let budget = ready * REPLICA.ranks * REPLICA.prefillTokensPerSecondPerRank * dt;
    const speed = decodeSpeed(this.#runningCount / (ready * REPLICA.ranks));
    let generated = 0;
    let completed = 0;
    const still: Running[] = [];
    for (const r of this.#running) {
      if (r.prefillLeft > 0) {
        const want = r.prefillLeft * r.count;
        const use = Math.min(budget, want);
        budget -= use;
        r.prefillLeft -= use / r.count;
        if (r.prefillLeft > 1e-6) {
          still.push(r);
          continue;
        }
        r.prefillLeft = 0;
        // Prefill samples the first token (as vLLM does).
        r.outLeft -= 1;
        generated += r.count;
      } else {
        const step = Math.min(r.outLeft, speed * dt);
        r.outLeft -= step;
        generated += step * r.count;
      }
      if (r.outLeft > 1e-6) still.push(r);
      else {
        completed += r.count;
        this.#runningCount -= r.count;
      }
    }
    this.#running = still;
    this.#admit(now, ready);
    return { generated, completed };
  }

  /** Charges what is still queued at the end of a replay as if admitted now. */
  closeOut(now: number): void {
    for (let i = this.#head; i < this.#queue.length; i++) this.#charge(this.#queue[i]!, now, this.#queue[i]!.count);
  }

  #admit(now: number, ready: number): void {
    const slots = ready * SLOTS_PER_REPLICA;
    while (this.#head < this.#queue.length && this.#runningCount < slots - 1e-9) {
      const w = this.#queue[this.#head]!;
      const take = Math.min(w.count, slots - this.#runningCount);
      this.#charge(w, now, take);
      this.#running.push({ count: take, prompt: w.prompt, output: w.output, prefillLeft: w.prompt, outLeft: w.output });
      this.#runningCount += take;
      this.#waitingCount -= take;
      w.count -= take;
      if (w.count <= 1e-9) this.#head++;
    }
    if (this.#head > 4096) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #charge(w: Waiting, now: number, count: number): void {
    const wait = now - w.arrival;
    this.admitted += count;
    if (wait > this.waitTargetSeconds) {
      this.violations += count;
      this.excessSeconds += (wait - this.waitTargetSeconds) * count;
    }
  }
}
