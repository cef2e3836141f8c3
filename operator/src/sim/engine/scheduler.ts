// The simulated engine core: one continuous-batching scheduler per data-parallel rank, each with a
// bounded running set, an FCFS waiting queue and a paged KV pool, advanced in time steps.
//
// Time model (per rank, per tick of `dt` seconds):
//   * prefill: admitted sequences consume a shared budget of `prefillTokensPerSecond × dt` prompt
//     tokens in admission order; finishing prefill yields the first output token (as in vLLM, where the
//     prefill step samples token 1);
//   * decode: one decode step for a batch of n sequences takes
//       (1 + batchSlowdown × (n − 1)) / tokensPerSecondPerSeq  seconds,
//     so per-sequence speed falls and aggregate throughput grows sub-linearly with n, saturating
//     towards tokensPerSecondPerSeq / batchSlowdown per rank (memory-bound decode);
//   * KV: every running sequence holds ceil(tokens / blockSize) blocks; admission needs the blocks for
//     its prompt; when decode cannot grow a sequence, the most recently admitted sequence is preempted
//     (blocks freed, back to the head of the queue, recomputed later) as vLLM's recompute preemption does.
// Ticks are coarse (default 10 ms) and catch up on elapsed real time, so a tick may carry several
// tokens per sequence; the counts are exact, only their spacing is quantised.

export type FinishReason = "stop" | "length" | "abort";

export interface SequenceRequest {
  promptTokens: number;
  /** Exactly this many tokens are generated unless the sequence is aborted. */
  outputTokens: number;
  /** Reported when `outputTokens` are reached: "length" when the client's max_tokens capped it. */
  finishReason: "stop" | "length";
  /** Health-check generations: they occupy the scheduler but stay out of request metrics. */
  internal?: boolean;
  /** Pin to one data-parallel rank (SGLang sends its health check to DP rank 0). */
  rank?: number;
  onTokens?(from: number, count: number): void;
  /** "error": the engine died under the request (see failAll). */
  onFinish?(reason: FinishReason | "error", generated: number): void;
}

export interface FinishedInfo {
  reason: FinishReason;
  promptTokens: number;
  generated: number;
  e2eSeconds: number;
  queueSeconds: number;
  internal: boolean;
}

/** Hooks the metric exporters attach to; every method is called synchronously from the core. */
export interface EngineObserver {
  scheduled?(rank: number, queueSeconds: number, internal: boolean): void;
  promptProcessed?(rank: number, tokens: number, internal: boolean): void;
  tokensGenerated?(rank: number, count: number, internal: boolean): void;
  firstToken?(rank: number, ttftSeconds: number, internal: boolean): void;
  finished?(rank: number, info: FinishedInfo): void;
  preempted?(rank: number): void;
}

export interface EngineCoreOptions {
  ranks: number;
  maxSeqsPerRank: number;
  kvBlocksPerRank: number;
  blockSize: number;
  tokensPerSecondPerSeq: number;
  prefillTokensPerSecond: number;
  batchSlowdown: number;
  /** vLLM's DP coordinator picks the engine with the lowest 4×waiting + running; SGLang round-robins. */
  dispatch: "least-loaded" | "round-robin";
  tickSeconds: number;
  /** Seconds; defaults to performance.now()/1000. Tests pass a fake clock and call tick() themselves. */
  clock?: () => number;
  throughputWindowSeconds?: number;
}

export interface RankSnapshot {
  rank: number;
  running: number;
  waiting: number;
  /** Tokens held in KV by running sequences (prompt + generated). */
  usedTokens: number;
  usedBlocks: number;
  totalBlocks: number;
  /** usedBlocks / totalBlocks, 0..1. */
  kvUsage: number;
  /** Tokens generated per second over the recent window. */
  genThroughput: number;
}

export interface SequenceHandle {
  readonly id: number;
  readonly rank: number;
  abort(): void;
}

type State = "waiting" | "prefill" | "decode" | "done";

interface Sequence {
  id: number;
  req: SequenceRequest;
  rank: number;
  arrival: number;
  scheduledAt: number | undefined;
  firstTokenAt: number | undefined;
  state: State;
  prefillLeft: number;
  generated: number;
  blocks: number;
  promptCounted: boolean;
}

interface Rank {
  index: number;
  waiting: Sequence[];
  running: Sequence[];
  usedBlocks: number;
  decodeProgress: number;
  window: Array<[number, number]>;
}

export class EngineCore {
  readonly options: Readonly<EngineCoreOptions>;
  readonly #ranks: Rank[];
  readonly #observers: EngineObserver[] = [];
  readonly #clock: () => number;
  readonly #window: number;
  #nextId = 1;
  #rr = 0;
  #lastTick: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #autoTick = false;
  #loadMultiplier = 1;
  #wedged = false;

  constructor(options: EngineCoreOptions) {
    for (const k of ["ranks", "maxSeqsPerRank", "kvBlocksPerRank", "blockSize"] as const) {
      if (!Number.isInteger(options[k]) || options[k] < 1)
        throw new RangeError(`engine core: ${k} must be a positive integer, got ${options[k]}`);
    }
    for (const k of ["tokensPerSecondPerSeq", "prefillTokensPerSecond", "tickSeconds"] as const) {
      if (!(options[k] > 0) || !Number.isFinite(options[k]))
        throw new RangeError(`engine core: ${k} must be a positive number, got ${options[k]}`);
    }
    if (!(options.batchSlowdown >= 0))
      throw new RangeError(`engine core: batchSlowdown must be >= 0, got ${options.batchSlowdown}`);
    this.options = { ...options };
    this.#clock = options.clock ?? (() => performance.now() / 1000);
    this.#window = options.throughputWindowSeconds ?? 2;
    this.#ranks = Array.from({ length: options.ranks }, (_, index) => ({
      index,
      waiting: [],
      running: [],
      usedBlocks: 0,
      decodeProgress: 0,
      window: [],
    }));
  }

  observe(o: EngineObserver): void {
    this.#observers.push(o);
  }

  /** Drive ticks from a timer (the server does; unit tests call tick() with a fake clock instead). */
  start(): void {
    this.#autoTick = true;
    this.#schedule();
  }

  stop(): void {
    this.#autoTick = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Multiplies the cost of every prefill and decode step (2 = half speed), e.g. a noisy neighbour. */
  setLoadMultiplier(m: number): void {
    if (!(m > 0) || !Number.isFinite(m))
      throw new RangeError(`load multiplier must be a positive finite number, got ${m}`);
    this.#loadMultiplier = m;
  }

  get loadMultiplier(): number {
    return this.#loadMultiplier;
  }

  /**
   * A hung GPU loop: no prefill or decode progress while requests keep being accepted and queued.
   * vLLM's /health does not notice this (it only checks that the engine process is alive).
   */
  setWedged(w: boolean): void {
    this.#wedged = w;
  }

  get wedged(): boolean {
    return this.#wedged;
  }

  /** Blocks a sequence of `tokens` tokens occupies. */
  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.options.blockSize);
  }

  /** Whether a sequence of this total length can ever be scheduled on one rank. */
  fits(totalTokens: number): boolean {
    return this.blocksFor(totalTokens) <= this.options.kvBlocksPerRank;
  }

  submit(req: SequenceRequest): SequenceHandle {
    if (!Number.isInteger(req.promptTokens) || req.promptTokens < 1)
      throw new RangeError(`promptTokens must be a positive integer, got ${req.promptTokens}`);
    if (!Number.isInteger(req.outputTokens) || req.outputTokens < 1)
      throw new RangeError(`outputTokens must be a positive integer, got ${req.outputTokens}`);
    if (!this.fits(req.promptTokens + req.outputTokens)) {
      throw new RangeError(
        `a sequence of ${req.promptTokens + req.outputTokens} tokens needs more than the ${this.options.kvBlocksPerRank} KV blocks of a rank`,
      );
    }
    const now = this.#clock();
    if (this.#idle()) this.#lastTick = now;
    const rank = req.rank !== undefined ? this.#ranks[req.rank] : this.#pickRank();
    if (!rank) throw new RangeError(`no data-parallel rank ${req.rank} (have ${this.#ranks.length})`);
    const seq: Sequence = {
      id: this.#nextId++,
      req,
      rank: rank.index,
      arrival: now,
      scheduledAt: undefined,
      firstTokenAt: undefined,
      state: "waiting",
      prefillLeft: 0,
      generated: 0,
      blocks: 0,
      promptCounted: false,
    };
    rank.waiting.push(seq);
    // The scheduler picks new work up at the start of its next step; admitting here instead keeps the
    // queue gauges exact at the moment a request is accepted.
    this.#admit(rank, now);
    this.#schedule();
    return { id: seq.id, rank: rank.index, abort: () => this.#abort(seq) };
  }

  /** Advance simulated work to `now` (seconds on the core's clock). */
  tick(now: number = this.#clock()): void {
    const dt = this.#lastTick === undefined ? 0 : Math.max(0, now - this.#lastTick);
    this.#lastTick = now;
    if (this.#wedged || dt === 0) return;
    for (const rank of this.#ranks) this.#stepRank(rank, now, dt);
  }

  snapshot(now: number = this.#clock()): RankSnapshot[] {
    return this.#ranks.map((r) => {
      let usedTokens = 0;
      for (const s of r.running) usedTokens += this.#heldTokens(s);
      this.#prune(r, now);
      const generatedInWindow = r.window.reduce((a, [, n]) => a + n, 0);
      return {
        rank: r.index,
        running: r.running.length,
        waiting: r.waiting.length,
        usedTokens,
        usedBlocks: r.usedBlocks,
        totalBlocks: this.options.kvBlocksPerRank,
        kvUsage: r.usedBlocks / this.options.kvBlocksPerRank,
        genThroughput: generatedInWindow / this.#window,
      };
    });
  }

  inFlight(): number {
    return this.#ranks.reduce((a, r) => a + r.running.length + r.waiting.length, 0);
  }

  /** The engine died: every in-flight sequence ends with "error", nothing is recorded in metrics. */
  failAll(): void {
    for (const r of this.#ranks) {
      const all = [...r.running, ...r.waiting];
      r.running = [];
      r.waiting = [];
      r.usedBlocks = 0;
      r.decodeProgress = 0;
      for (const s of all) {
        s.state = "done";
        s.req.onFinish?.("error", s.generated);
      }
    }
  }

  #idle(): boolean {
    return this.inFlight() === 0;
  }

  #schedule(): void {
    if (!this.#autoTick || this.#timer || this.#idle()) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.tick();
      this.#schedule();
    }, this.options.tickSeconds * 1000);
  }

  #pickRank(): Rank {
    if (this.options.dispatch === "round-robin") return this.#ranks[this.#rr++ % this.#ranks.length]!;
    let best = this.#ranks[0]!;
    let bestScore = Infinity;
    for (const r of this.#ranks) {
      const score = 4 * r.waiting.length + r.running.length;
      if (score < bestScore) {
        best = r;
        bestScore = score;
      }
    }
    return best;
  }

  #heldTokens(s: Sequence): number {
    return s.req.promptTokens + s.generated;
  }

  #admit(rank: Rank, now: number): void {
    while (rank.waiting.length > 0 && rank.running.length < this.options.maxSeqsPerRank) {
      const head = rank.waiting[0]!;
      // Room for the prompt (plus what a preempted sequence already generated) and the next token.
      const need = this.blocksFor(this.#heldTokens(head) + 1);
      if (this.options.kvBlocksPerRank - rank.usedBlocks < need) break;
      rank.waiting.shift();
      head.blocks = need;
      rank.usedBlocks += need;
      head.state = "prefill";
      head.prefillLeft = this.#heldTokens(head);
      rank.running.push(head);
      if (head.scheduledAt === undefined) {
        head.scheduledAt = now;
        for (const o of this.#observers) o.scheduled?.(rank.index, now - head.arrival, !!head.req.internal);
      }
    }
  }

  #stepRank(rank: Rank, now: number, dt: number): void {
    this.#admit(rank, now);
    const m = this.#loadMultiplier;
    // Prefill, FIFO over the shared per-step token budget.
    let budget = (dt * this.options.prefillTokensPerSecond) / m;
    const justPrefilled = new Set<Sequence>();
    for (const s of rank.running) {
      if (budget <= 0) break;
      if (s.state !== "prefill") continue;
      const use = Math.min(budget, s.prefillLeft);
      s.prefillLeft -= use;
      budget -= use;
      if (s.prefillLeft > 1e-9) continue;
      s.state = "decode";
      if (!s.promptCounted) {
        s.promptCounted = true;
        for (const o of this.#observers) o.promptProcessed?.(rank.index, s.req.promptTokens, !!s.req.internal);
      }
      justPrefilled.add(s);
      this.#emit(rank, s, 1, now);
    }
    // Decode: whole steps elapsed for the current batch size.
    const decoding = rank.running.filter((s) => s.state === "decode" && !justPrefilled.has(s));
    if (decoding.length === 0) {
      rank.decodeProgress = 0;
    } else {
      const n = rank.running.length;
      const stepSeconds = (m * (1 + this.options.batchSlowdown * (n - 1))) / this.options.tokensPerSecondPerSeq;
      rank.decodeProgress += dt / stepSeconds;
      const steps = Math.floor(rank.decodeProgress);
      rank.decodeProgress -= steps;
      if (steps > 0) {
        for (const s of decoding) {
          if (s.state !== "decode") continue; // preempted earlier in this loop
          const want = Math.min(steps, s.req.outputTokens - s.generated);
          if (want <= 0) continue;
          if (!this.#grow(rank, s, this.#heldTokens(s) + want)) continue;
          this.#emit(rank, s, want, now);
        }
      }
    }
    for (const s of [...rank.running]) {
      if (s.generated >= s.req.outputTokens) this.#finish(rank, s, s.req.finishReason, now);
    }
    this.#admit(rank, now);
  }

  /** Make room for `s` to hold `tokens`; preempts the newest other sequences, or `s` itself. */
  #grow(rank: Rank, s: Sequence, tokens: number): boolean {
    const extra = this.blocksFor(tokens) - s.blocks;
    while (extra > this.options.kvBlocksPerRank - rank.usedBlocks) {
      const victim = [...rank.running].reverse().find((v) => v !== s) ?? s;
      this.#preempt(rank, victim);
      if (victim === s) return false;
    }
    if (extra > 0) {
      s.blocks += extra;
      rank.usedBlocks += extra;
    }
    return true;
  }

  #preempt(rank: Rank, s: Sequence): void {
    rank.running = rank.running.filter((x) => x !== s);
    rank.usedBlocks -= s.blocks;
    s.blocks = 0;
    s.state = "waiting";
    rank.waiting.unshift(s);
    for (const o of this.#observers) o.preempted?.(rank.index);
  }

  #emit(rank: Rank, s: Sequence, count: number, now: number): void {
    const from = s.generated;
    s.generated += count;
    // One window entry per tick and rank, so the window stays as long as the ticks it spans.
    const tail = rank.window[rank.window.length - 1];
    if (tail && tail[0] === now) tail[1] += count;
    else {
      rank.window.push([now, count]);
      this.#prune(rank, now);
    }
    if (s.firstTokenAt === undefined) {
      s.firstTokenAt = now;
      for (const o of this.#observers) o.firstToken?.(rank.index, now - s.arrival, !!s.req.internal);
    }
    for (const o of this.#observers) o.tokensGenerated?.(rank.index, count, !!s.req.internal);
    s.req.onTokens?.(from, count);
  }

  #finish(rank: Rank, s: Sequence, reason: FinishReason, now: number): void {
    const wasRunning = rank.running.includes(s);
    rank.running = rank.running.filter((x) => x !== s);
    rank.waiting = rank.waiting.filter((x) => x !== s);
    if (wasRunning) rank.usedBlocks -= s.blocks;
    s.blocks = 0;
    s.state = "done";
    const info: FinishedInfo = {
      reason,
      promptTokens: s.req.promptTokens,
      generated: s.generated,
      e2eSeconds: now - s.arrival,
      queueSeconds: (s.scheduledAt ?? now) - s.arrival,
      internal: !!s.req.internal,
    };
    for (const o of this.#observers) o.finished?.(rank.index, info);
    s.req.onFinish?.(reason, s.generated);
  }

  #abort(s: Sequence): void {
    if (s.state === "done") return;
    const rank = this.#ranks[s.rank]!;
    this.#finish(rank, s, "abort", this.#clock());
    this.#admit(rank, this.#clock());
  }

  #prune(r: Rank, now: number): void {
    let i = 0;
    while (i < r.window.length && r.window[i]![0] <= now - this.#window) i++;
    if (i > 0) r.window.splice(0, i);
  }
}
