// A supervised informer around client-node 2.x's ListWatch.
//
// client-node does the list → watch → relist-on-410 cycle, but (see docs/controller-runtime.md):
//   * on any error other than 410 / client-side timeout it fires `error` and stops for good;
//   * a hung LIST or an otherwise wedged stream produces no signal at all (issues #364, #596, #958);
//   * on a 410 that persists after relisting it relists forever, with no visibility;
//   * it has no resync.
// This wrapper supervises it. Each (re)start builds a fresh ListWatch ("a stream generation") whose Watch and list
// function are proxied, so the wrapper sees every watch event, 410, stream end and list. Callbacks of an older
// generation are ignored, which makes restarts race-free (an aborted request's late `done` cannot kill its
// successor, which is what happens when one ListWatch instance is stopped and started again).
//
// The cache handlers see is the wrapper's own store, not ListWatch's: each successful list is diffed into it
// (deletes for objects that vanished, adds/updates for the rest), so a from-scratch restart still reports deletions
// that happened while the stream was down, and handlers see an update only when resourceVersion changed.
import { ListWatch, type KubernetesListObject, type KubernetesObject, type Watch } from "@kubernetes/client-node";
import { rootLogger, type Logger } from "../../util/log.ts";
import { realClock, type Clock, type TimerHandle } from "./clock.ts";
import { httpCode } from "./errors.ts";
import { objectKey } from "./keys.ts";
import { OperatorMetrics } from "./metrics.ts";

export type InformerEventType = "add" | "update" | "delete" | "resync";

/** Called synchronously for every cache change; must only enqueue work (see handlers.ts). */
export type InformerHandler<T> = (obj: T, type: InformerEventType, old?: T) => void;

/** The part of client-node's Watch the informer uses; tests pass a fake, production passes `new Watch(kc)`. */
export interface WatchLike {
  watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

/** One page of a LIST: at most `limit` items; pass the previous page's metadata.continue to get the next. */
export interface PageOptions {
  limit?: number;
  continue?: string;
}

/** LIST of the watched collection (one page of it when `limit` is set); must apply the same selectors as the watch. */
export type ListFn<T extends KubernetesObject> = (opts: ListOptions & PageOptions) => Promise<KubernetesListObject<T>>;

export interface InformerOptions<T extends KubernetesObject> {
  /** For logs and metrics, e.g. "deepseekdeployments" or "pods". */
  name: string;
  /** Collection path, e.g. /apis/apps/v1/namespaces/ns/deployments (see resourcePath). */
  path: string;
  list: ListFn<T>;
  watch: WatchLike;
  labelSelector?: string;
  fieldSelector?: string;
  clock?: Clock;
  log?: Logger;
  metrics?: OperatorMetrics;
  /** Re-deliver every cached object as "resync" this often; 0 disables. Default 10 min. */
  resyncPeriodMs?: number;
  /**
   * Restart the stream when nothing (connect, list, watch event, stream end) happened for this long. client-node
   * 2.0.1 ends a watch after 30 s without data and reconnects (firing `connect`), so a healthy quiet stream
   * signals at least every ~30 s. Default 5 min.
   */
  watchdogQuietMs?: number;
  /** Backoff for restarts after errors: base, doubling, capped. Default 1 s → 60 s. */
  restartBackoffBaseMs?: number;
  restartBackoffMaxMs?: number;
  /** Consecutive 410 Gone (no healthy event between) tolerated before restarting from scratch. Default 3. */
  maxConsecutiveGone?: number;
  /**
   * Applied in place to every object before it is cached (controller-runtime's cache TransformFunc),
   * e.g. stripManagedFields. In place because client-node's ListWatch holds the same instances: a copy
   * would keep both.
   */
  transform?: (obj: T) => void;
  /**
   * LIST in pages of this many objects (limit + continue, client-go's pager default 500), each transformed before
   * the next is fetched, so a large collection is never held in full and untransformed; 0 lists in one request.
   */
  pageSize?: number;
}

export interface InformerHealth {
  synced: boolean;
  /** How long the stream has been failing (0 when healthy). Feeds the /healthz check. */
  downForMs: number;
  restarts: number;
  lastError: string | undefined;
}

interface Generation {
  readonly id: number;
  readonly abort: AbortController;
  listWatch?: ListWatch<KubernetesObject>;
  request?: AbortController;
}

export class Informer<T extends KubernetesObject> {
  readonly name: string;
  readonly #o: InformerOptions<T>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: OperatorMetrics;
  readonly #resyncMs: number;
  readonly #quietMs: number;
  readonly #backoffBase: number;
  readonly #backoffMax: number;
  readonly #maxGone: number;

  readonly #store = new Map<string, T>();
  readonly #handlers: InformerHandler<T>[] = [];
  #gen: Generation | undefined;
  #genSeq = 0;
  #running = false;
  #synced = false;
  #syncWaiters: Array<() => void> = [];

  #lastSignal = 0;
  #downSince: number | undefined;
  #lastError: string | undefined;
  #restarts = 0;
  #failures = 0; // consecutive restarts without a healthy event: drives the backoff
  #gone = 0; // consecutive 410s without a healthy event
  #restartTimer: TimerHandle | undefined;
  #watchdogTimer: TimerHandle | undefined;
  #resyncTimer: TimerHandle | undefined;

  constructor(opts: InformerOptions<T>) {
    this.name = opts.name;
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
    this.#log = (opts.log ?? rootLogger).child({ informer: opts.name });
    this.#metrics = opts.metrics ?? new OperatorMetrics({ processMetrics: false });
    this.#resyncMs = opts.resyncPeriodMs ?? 10 * 60_000;
    this.#quietMs = opts.watchdogQuietMs ?? 5 * 60_000;
    this.#backoffBase = opts.restartBackoffBaseMs ?? 1000;
    this.#backoffMax = opts.restartBackoffMaxMs ?? 60_000;
    this.#maxGone = opts.maxConsecutiveGone ?? 3;
    this.#metrics.informerSynced.set({ informer: this.name }, 0);
  }

  /** Register a handler. Handlers added after sync get "add" for every object already cached. */
  addHandler(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
    if (this.#synced) for (const obj of this.#store.values()) this.#call(handler, obj, "add");
  }

  /** Start listing and watching. Returns at once; use waitForSync for the first full list. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#lastSignal = this.#clock.now();
    this.#startGeneration();
    this.#armWatchdog();
    if (this.#resyncMs > 0) this.#armResync();
  }

  /** Stop for good: abort the stream, cancel timers. The cache stays readable. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#closeGeneration();
    for (const t of [this.#restartTimer, this.#watchdogTimer, this.#resyncTimer]) this.#clock.clearTimeout(t);
    this.#restartTimer = this.#watchdogTimer = this.#resyncTimer = undefined;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves true once the first list has been applied, false if that takes longer than timeoutMs. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#syncWaiters = this.#syncWaiters.filter((w) => w !== onSync);
        resolve(false);
      }, timeoutMs);
      const onSync = (): void => {
        this.#clock.clearTimeout(timer);
        resolve(true);
      };
      this.#syncWaiters.push(onSync);
    });
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#store.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Cached objects, optionally of one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.#store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  health(): InformerHealth {
    return {
      synced: this.#synced,
      downForMs: this.#downSince === undefined ? 0 : this.#clock.now() - this.#downSince,
      restarts: this.#restarts,
      lastError: this.#lastError,
    };
  }

  // ---- stream generations ----

  #startGeneration(): void {
    const gen: Generation = { id: ++this.#genSeq, abort: new AbortController() };
    this.#gen = gen;
    const lw = new ListWatch<KubernetesObject>(
      this.#o.path,
      this.#watchProxy(gen) as unknown as Watch,
      () => this.#listProxy(gen),
      false,
      this.#o.labelSelector,
      this.#o.fieldSelector,
      // client-node's own reconnect delays run on our clock and end early when the generation is closed.
      { delayFn: (ms) => this.#clock.sleep(ms, gen.abort.signal) },
    );
    gen.listWatch = lw;
    const current = (): boolean => this.#gen === gen && this.#running;
    // Adds/updates/deletes from ListWatch's own list diff are already in our store (applied in #listProxy) and
    // are no-ops here; watch events are new.
    lw.on("add", (obj) => current() && this.#upsert(obj as T));
    lw.on("update", (obj) => current() && this.#upsert(obj as T));
    lw.on("delete", (obj) => current() && this.#remove(obj as T));
    lw.on("connect", () => current() && this.#alive());
    lw.on("error", (err) => current() && this.#failed("error", err));
    this.#log.debug({ generation: gen.id }, "starting list/watch");
    lw.start().catch((err: unknown) => current() && this.#failed("error", err));
  }

  #closeGeneration(): void {
    const gen = this.#gen;
    this.#gen = undefined;
    if (!gen) return;
    gen.abort.abort();
    gen.request?.abort();
    // ListWatch.stop() aborts its request too; the resulting done(AbortError) reaches a closed generation and is
    // dropped by the proxy, so it cannot fire `error` or reconnect.
    void gen.listWatch?.stop();
  }

  async #listProxy(gen: Generation): Promise<KubernetesListObject<KubernetesObject>> {
    this.#metrics.informerLists.inc({ informer: this.name });
    const list = await this.#listPages(gen);
    if (this.#gen === gen && this.#running) {
      this.#replace(list.items);
      this.#alive();
      if (!this.#synced) this.#markSynced();
    }
    return list;
  }

  /**
   * The whole collection, page by page (client-go's ListPager): every page is one consistent snapshot continued,
   * and the last page's resourceVersion is the one to watch from. A continue token that expired mid-way (410)
   * falls back to one unpaginated LIST, as client-go's FullListIfExpired does.
   */
  async #listPages(gen: Generation): Promise<KubernetesListObject<KubernetesObject> & { items: KubernetesObject[] }> {
    const selectors = { labelSelector: this.#o.labelSelector, fieldSelector: this.#o.fieldSelector };
    const pageSize = this.#o.pageSize ?? 500;
    const items: KubernetesObject[] = [];
    let page: KubernetesListObject<T>;
    let next: string | undefined;
    let pages = 0;
    do {
      try {
        page = await this.#o.list({
          ...selectors,
          ...(pageSize > 0 ? { limit: pageSize } : {}),
          ...(next ? { continue: next } : {}),
        });
      } catch (err) {
        if (!next || httpCode(err) !== 410) throw err;
        this.#log.info({ pages }, "list continue token expired (410); listing in one request");
        items.length = 0;
        page = await this.#o.list(selectors);
      }
      pages++;
      if (this.#gen !== gen || !this.#running) break;
      for (const item of page.items ?? []) items.push(this.#prepare(item, page));
      // Raw JSON: "continue" is "" or absent on the last page.
      next = (page.metadata as { continue?: string } | undefined)?.continue || undefined;
    } while (next);
    return { ...page, items };
  }

  /**
   * A listed object as the cache keeps it. The apiserver omits apiVersion/kind on list items but sends them on
   * watch events; they are filled in so every cached object looks the same whichever way it arrived.
   */
  #prepare(item: T, list: KubernetesListObject<T>): T {
    item.apiVersion ??= list.apiVersion;
    if (list.kind?.endsWith("List")) item.kind ??= list.kind.slice(0, -4);
    this.#o.transform?.(item);
    return item;
  }

  #watchProxy(gen: Generation): WatchLike {
    return {
      watch: async (path, query, callback, done) => {
        const open = (): boolean => this.#gen === gen && this.#running;
        if (!open()) return new AbortController(); // closed generation: never call done, so ListWatch goes idle
        let sawGone = false;
        let ended = false;
        const onEvent = (phase: string, obj: unknown, raw?: unknown): void => {
          if (!open()) return;
          this.#metrics.informerEvents.inc({ informer: this.name, type: phase });
          if (phase === "ERROR") {
            if ((obj as { code?: unknown } | null)?.code === 410) {
              sawGone = true;
              if (this.#goneSeen()) return; // restarted from scratch: don't let ListWatch relist as well
            } else {
              this.#log.warn({ status: obj }, "watch ERROR event");
            }
          } else {
            this.#healthy();
          }
          callback(phase, obj, raw);
        };
        const onDone = (err: unknown): void => {
          ended = true;
          if (!open()) return;
          this.#alive();
          if (httpCode(err) === 410) {
            sawGone = true;
            if (this.#goneSeen()) return;
          } else if (!sawGone && (!err || (err as { name?: unknown }).name === "TimeoutError")) {
            // The stream lived until the server or client-node's inactivity timeout closed it: all is well.
            this.#healthy();
          }
          done(err);
        };
        // Bookmarks carry the collection's resourceVersion while nothing we watch changes; ListWatch keeps it, so a
        // stream that ends (client-node recycles quiet ones every 30 s, the apiserver every 5-10 min) resumes from
        // a recent version instead of one compacted away meanwhile, which would cost a 410 and a full relist.
        const ctrl = await this.#o.watch.watch(path, { ...query, allowWatchBookmarks: true }, onEvent, onDone);
        if (!open()) {
          ctrl.abort();
        } else {
          gen.request = ctrl;
          if (!ended) this.#alive();
        }
        return ctrl;
      },
    };
  }

  // ---- liveness, failure and restart ----

  #alive(): void {
    this.#lastSignal = this.#clock.now();
  }

  #healthy(): void {
    this.#alive();
    this.#gone = 0;
    this.#failures = 0;
    if (this.#downSince !== undefined) {
      this.#log.info({ downForMs: this.#clock.now() - this.#downSince }, "watch stream healthy again");
      this.#downSince = undefined;
    }
  }

  /** Returns true when the 410 budget is exhausted and a from-scratch restart has been scheduled. */
  #goneSeen(): boolean {
    this.#gone++;
    if (this.#gone <= this.#maxGone) {
      this.#log.info({ consecutiveGone: this.#gone }, "watch resourceVersion expired (410); client-node relists");
      return false;
    }
    this.#failed("gone", new Error(`${this.#gone} consecutive 410 Gone responses; relisting from scratch`));
    return true;
  }

  #failed(reason: "error" | "watchdog" | "gone", err: unknown): void {
    if (!this.#running || this.#restartTimer) return;
    const now = this.#clock.now();
    this.#downSince ??= now;
    this.#lastError = err instanceof Error ? err.message : String(err);
    this.#restarts++;
    this.#metrics.informerRestarts.inc({ informer: this.name, reason });
    const delay = Math.min(this.#backoffBase * 2 ** this.#failures, this.#backoffMax);
    this.#failures++;
    this.#log.warn(
      { err, reason, restartInMs: delay, restarts: this.#restarts, code: httpCode(err), path: this.#o.path },
      "informer stream stopped; restarting with a fresh list",
    );
    this.#closeGeneration();
    this.#restartTimer = this.#clock.setTimeout(() => {
      this.#restartTimer = undefined;
      if (!this.#running) return;
      this.#alive();
      this.#startGeneration();
    }, delay);
  }

  #armWatchdog(): void {
    const due = this.#lastSignal + this.#quietMs;
    this.#watchdogTimer = this.#clock.setTimeout(
      () => {
        if (!this.#running) return;
        const quiet = this.#clock.now() - this.#lastSignal;
        // A scheduled restart is its own progress; the watchdog only judges a stream that should be running.
        if (quiet >= this.#quietMs && !this.#restartTimer) {
          this.#failed("watchdog", new Error(`no watch activity for ${quiet} ms`));
          this.#alive();
        }
        this.#armWatchdog();
      },
      Math.max(1, due - this.#clock.now()),
    );
  }

  #armResync(): void {
    this.#resyncTimer = this.#clock.setTimeout(() => {
      if (!this.#running) return;
      if (this.#synced) for (const obj of [...this.#store.values()]) this.#emit(obj, "resync");
      this.#armResync();
    }, this.#resyncMs);
  }

  // ---- store ----

  #markSynced(): void {
    this.#synced = true;
    this.#metrics.informerSynced.set({ informer: this.name }, 1);
    this.#log.info({ objects: this.#store.size }, "cache synced");
    for (const w of this.#syncWaiters.splice(0)) w();
  }

  /** Diff a complete list (already transformed) into the store. */
  #replace(items: KubernetesObject[]): void {
    const seen = new Set<string>();
    for (const item of items) seen.add(objectKey(item));
    for (const [key, obj] of [...this.#store]) {
      if (!seen.has(key)) {
        this.#store.delete(key);
        this.#emit(obj, "delete");
      }
    }
    for (const item of items) this.#upsert(item as T, true);
  }

  #upsert(obj: T, transformed = false): void {
    const key = objectKey(obj);
    const old = this.#store.get(key);
    if (old === obj) return; // ListWatch reporting a listed object the store already holds
    if (!transformed) this.#o.transform?.(obj);
    const rv = obj.metadata?.resourceVersion;
    if (old && rv !== undefined && old.metadata?.resourceVersion === rv) return;
    this.#store.set(key, obj);
    this.#emit(obj, old ? "update" : "add", old);
  }

  #remove(obj: T): void {
    const key = objectKey(obj);
    const old = this.#store.get(key);
    if (!old) return;
    this.#store.delete(key);
    this.#emit(obj, "delete");
  }

  #emit(obj: T, type: InformerEventType, old?: T): void {
    for (const h of this.#handlers) this.#call(h, obj, type, old);
  }

  #call(h: InformerHandler<T>, obj: T, type: InformerEventType, old?: T): void {
    try {
      h(obj, type, old);
    } catch (err) {
      this.#log.error({ err, type, object: objectKey(obj) }, "informer handler threw; handlers must only enqueue");
    }
  }
}

/** managedFields are often the largest part of an object and a reconciler never reads them. */
export function stripManagedFields(obj: KubernetesObject): void {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
}

export interface ResourceRef {
  /** "" or undefined for the core group. */
  group?: string;
  version: string;
  /** Lower-case plural resource name, e.g. "deployments". */
  plural: string;
  /** Omit to watch all namespaces (or a cluster-scoped resource). */
  namespace?: string;
}

/** The collection path of a resource: /api/v1/namespaces/ns/pods, /apis/apps/v1/deployments, … */
export function resourcePath(r: ResourceRef): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : "";
  return `${base}${ns}/${r.plural}`;
}
