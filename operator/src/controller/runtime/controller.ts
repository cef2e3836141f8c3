// The reconcile loop of controller-runtime (pkg/internal/controller/controller.go): N workers pull keys from the
// work queue and map each reconcile outcome onto the queue exactly as reconcileHandler does:
//   error            → AddRateLimited (per-key exponential backoff), unless it is a TerminalError (not retried)
//   requeueAfterMs>0 → Forget + AddAfter
//   success          → Forget (the key's backoff resets)
import { randomBytes } from "node:crypto";
import { objectLogger, rootLogger, type Logger } from "../../util/log.ts";
import { realClock, type Clock, type TimerHandle } from "./clock.ts";
import { isTerminalError } from "./errors.ts";
import { OperatorMetrics } from "./metrics.ts";
import { WorkQueue } from "./workqueue.ts";

export interface Result {
  /** Reconcile this key again after this many ms (polling external progress). Ignored when an error is thrown. */
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  readonly key: string;
  readonly namespace: string | undefined;
  readonly name: string;
  /** Short random id, also on every line of `log`, to follow one reconcile through the logs. */
  readonly reconcileId: string;
  /** Child logger carrying controller, namespace, name and reconcileId. */
  readonly log: Logger;
  /** Aborted when the controller stops past its grace period or the reconcile exceeds reconcileTimeoutMs. */
  readonly signal: AbortSignal;
}

export type ReconcileFn = (key: string, ctx: ReconcileContext) => Promise<Result | void>;

/** Something whose cache must be filled before workers start (an Informer). */
export interface SyncSource {
  readonly name: string;
  waitForSync(timeoutMs: number): Promise<boolean>;
}

export interface ControllerOptions {
  /** Controller name: metric label, log field, default queue name. */
  name: string;
  reconcile: ReconcileFn;
  /** Defaults to a WorkQueue named after the controller with controller-runtime's rate limiter. */
  queue?: WorkQueue;
  /** MaxConcurrentReconciles; default 1 like controller-runtime. */
  workers?: number;
  log?: Logger;
  metrics?: OperatorMetrics;
  clock?: Clock;
  /** Informers whose initial list must complete before the first reconcile. */
  sources?: SyncSource[];
  /** controller-runtime CacheSyncTimeout; default 2 min. */
  cacheSyncTimeoutMs?: number;
  /** Abort ctx.signal of a reconcile running longer than this (controller-runtime ReconciliationTimeout). */
  reconcileTimeoutMs?: number;
}

const RESULT_LABELS = ["success", "error", "requeue", "requeue_after"] as const;

/** Parse "namespace/name" (or "name" for cluster-scoped objects). */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/**
 * JavaScript has no panics; the closest thing is a programming error (reading a property of undefined, a bad
 * reference) or a thrown non-Error. Those are counted in controller_runtime_reconcile_panics_total and then handled
 * like any error, as controller-runtime does with RecoverPanic (the default). undici reports network failures as
 * TypeError("fetch failed") with a `cause`, so a TypeError with a cause is an I/O error, not a panic.
 */
export function isPanic(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  if (err instanceof TypeError) return err.cause === undefined;
  return (
    err instanceof ReferenceError || err instanceof SyntaxError || err instanceof RangeError || err instanceof EvalError
  );
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #reconcile: ReconcileFn;
  readonly #workers: number;
  readonly #log: Logger;
  readonly #metrics: OperatorMetrics;
  readonly #clock: Clock;
  readonly #sources: SyncSource[];
  readonly #cacheSyncTimeoutMs: number;
  readonly #reconcileTimeoutMs: number | undefined;
  readonly #abort = new AbortController();
  #running: Promise<void>[] = [];
  #started = false;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.#reconcile = opts.reconcile;
    this.#workers = opts.workers ?? 1;
    if (!Number.isInteger(this.#workers) || this.#workers < 1)
      throw new Error(`controller ${opts.name}: workers must be an integer ≥ 1, got ${opts.workers}`);
    this.#log = (opts.log ?? rootLogger).child({ controller: opts.name });
    this.#metrics = opts.metrics ?? new OperatorMetrics({ processMetrics: false });
    this.#clock = opts.clock ?? realClock;
    this.queue = opts.queue ?? new WorkQueue({ name: opts.name, clock: this.#clock, metrics: this.#metrics });
    this.#sources = opts.sources ?? [];
    this.#cacheSyncTimeoutMs = opts.cacheSyncTimeoutMs ?? 120_000;
    this.#reconcileTimeoutMs = opts.reconcileTimeoutMs;
  }

  /**
   * Wait for the sources' caches, then start the workers. Resolves once the workers run (unlike Go's blocking
   * Start); rejects if a cache does not sync within cacheSyncTimeoutMs.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error(`controller ${this.name} was started more than once`);
    this.#started = true;
    this.#initMetrics();
    for (const src of this.#sources) {
      if (!(await src.waitForSync(this.#cacheSyncTimeoutMs))) {
        throw new Error(
          `controller ${this.name}: timed out after ${this.#cacheSyncTimeoutMs} ms waiting for the ${src.name} cache to sync`,
        );
      }
    }
    this.#log.info({ workers: this.#workers }, "starting workers");
    for (let i = 0; i < this.#workers; i++) this.#running.push(this.#worker());
  }

  /**
   * Stop taking work and wait for in-flight reconciles, at most `graceMs`. Past the deadline their ctx.signal is
   * aborted and stop() resolves false, naming the keys still running in the log.
   */
  async stop(graceMs = 30_000): Promise<boolean> {
    this.queue.shutDown();
    const all = Promise.all(this.#running).then(() => true);
    const timer: { handle?: TimerHandle } = {};
    const deadline = new Promise<false>((resolve) => {
      timer.handle = this.#clock.setTimeout(() => resolve(false), graceMs);
    });
    const finished = await Promise.race([all, deadline]);
    this.#clock.clearTimeout(timer.handle);
    if (!finished) {
      this.#log.warn(
        { inFlight: this.queue.inFlight(), graceMs },
        "reconciles still running after the shutdown grace period; aborting them",
      );
    } else {
      this.#log.info("all workers finished");
    }
    this.#abort.abort(new Error(`controller ${this.name} stopped`));
    return finished;
  }

  #initMetrics(): void {
    const c = { controller: this.name };
    for (const result of RESULT_LABELS) this.#metrics.reconcileTotal.inc({ ...c, result }, 0);
    this.#metrics.reconcileErrors.inc(c, 0);
    this.#metrics.terminalReconcileErrors.inc(c, 0);
    this.#metrics.reconcilePanics.inc(c, 0);
    this.#metrics.maxConcurrentReconciles.set(c, this.#workers);
    this.#metrics.activeWorkers.set(c, 0);
  }

  async #worker(): Promise<void> {
    const c = { controller: this.name };
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.#metrics.activeWorkers.inc(c);
      try {
        await this.#reconcileHandler(key);
      } finally {
        this.#metrics.activeWorkers.dec(c);
        this.queue.done(key);
      }
    }
  }

  async #reconcileHandler(key: string): Promise<void> {
    const started = this.#clock.now();
    const { namespace, name } = splitKey(key);
    const reconcileId = randomBytes(4).toString("hex");
    const log = objectLogger(this.#log, namespace, name, { reconcileId });
    const c = { controller: this.name };

    let timeout: TimerHandle | undefined;
    let signal = this.#abort.signal;
    if (this.#reconcileTimeoutMs !== undefined) {
      const t = new AbortController();
      const limit = this.#reconcileTimeoutMs;
      timeout = this.#clock.setTimeout(() => t.abort(new Error(`reconcile exceeded ${limit} ms`)), limit);
      signal = AbortSignal.any([signal, t.signal]);
    }

    const ctx: ReconcileContext = { key, namespace, name, reconcileId, log, signal };
    try {
      log.debug("reconciling");
      // Promise.resolve().then: a reconciler that throws synchronously is handled like one that rejects.
      const result = (await Promise.resolve().then(() => this.#reconcile(key, ctx))) ?? {};
      const after = result.requeueAfterMs ?? 0;
      if (after > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, after);
        this.#metrics.reconcileTotal.inc({ ...c, result: "requeue_after" });
        log.debug({ requeueAfterMs: after }, "reconcile done, requeueing after delay");
      } else {
        this.queue.forget(key);
        this.#metrics.reconcileTotal.inc({ ...c, result: "success" });
        log.debug("reconcile successful");
      }
    } catch (err) {
      if (isPanic(err)) this.#metrics.reconcilePanics.inc(c);
      this.#metrics.reconcileErrors.inc(c);
      this.#metrics.reconcileTotal.inc({ ...c, result: "error" });
      if (isTerminalError(err)) {
        this.#metrics.terminalReconcileErrors.inc(c);
        log.error({ err }, "reconciler error (terminal, not requeued)");
      } else {
        this.queue.addRateLimited(key);
        log.error({ err, requeues: this.queue.numRequeues(key) }, "reconciler error");
      }
    } finally {
      this.#clock.clearTimeout(timeout);
      this.#metrics.reconcileTime.observe(c, (this.#clock.now() - started) / 1000);
    }
  }
}
