// sha256 (and the git blob id of small files) on worker threads. One JS thread hashes about 1.5 GB/s
// at best, and it also has to drive every socket and write: on a fast link the hash would be the
// download rate, and on a busy node one thread gets one share of the CPU however many files it serves.
// Bytes in shared memory (the range client's direct-I/O slabs) are hashed where they are: the worker is
// told where they lie and hands them back (`release`) once hashed. Other bytes are copied once and the
// copy transferred: the writer keeps the original.
import { Worker } from "node:worker_threads";
import { loadSha256Native, sha256AddonPath, SHA256_SOURCE } from "./sha256.ts";

export type Digest = { sha256: string; gitOid: string | null };

/** An incremental hash: bytes in order, then one digest (or abandon, to free it unused). */
export interface IncrementalHash {
  /** `release` runs once `buf` is no longer read (at once, or after a worker hashed it in place). */
  update(buf: Buffer, release?: () => void): void;
  digest(): Promise<Digest>;
  abandon(): void;
}

// Plain JavaScript (eval'd), so it runs the same under Node's type stripping and under ts-jest.
// Messages queue up; each turn takes them in order, except that an update is paired with the first
// queued update of another file (that file's next bytes in order), so the SHA-NI addon hashes the two
// together. Bytes arrive a slab at a time per file, so an update with no partner waits up to HOLD_MS for
// one while another file is streaming (updated within ACTIVE_MS); the last file of a pull does not wait.
// On a 2 GiB pull of 8 files, 81-94 % of the bytes were hashed in pairs; letting a file's backlog go on
// at once instead of waiting (a read-back, several of its slabs queued) paired only 43-62 %.
// Shared slabs are registered as messages arrive: a message taken early may name a slab that an
// earlier, still queued one brought.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const native = workerData.sha256Addon ? require(workerData.sha256Addon) : undefined;
${SHA256_SOURCE}
const HOLD_MS = 12;
const ACTIVE_MS = 50;
const hashes = new Map();
const slabs = new Map();
const queue = [];
let scheduled = false;
let hold;
let heldSince = -1;
const bytesOf = (m) => (m.t === "u" ? m.b : slabs.get(m.slab).subarray(m.off, m.off + m.len));
const done = (m) => {
  if (m.t === "s") parentPort.postMessage({ ack: m.ack });
};
const feed = (h, b) => {
  h.sha256.update(b);
  if (h.git) h.git.update(b);
};
const isUpdate = (m) => m.t === "u" || m.t === "s";
/** Index of the first queued update of another file whose earlier messages are all handled, or -1. */
const partnerOf = (m) => {
  const seen = new Set([m.id]);
  for (let k = 1; k < queue.length; k++) {
    const q = queue[k];
    if (seen.has(q.id)) continue;
    seen.add(q.id);
    if (isUpdate(q) && hashes.has(q.id)) return k;
  }
  return -1;
};
const othersStreaming = (id, now) => {
  for (const [k, h] of hashes) if (k !== id && now - h.last < ACTIVE_MS) return true;
  return false;
};
const turn = () => {
  scheduled = false;
  while (queue.length > 0) {
    const m = queue[0];
    if (isUpdate(m)) {
      const h = hashes.get(m.id);
      const k = native ? partnerOf(m) : -1;
      if (k < 0) {
        const now = performance.now();
        if (heldSince < 0) heldSince = now;
        if (native && now - heldSince < HOLD_MS && othersStreaming(m.id, now)) {
          hold ??= setTimeout(() => {
            hold = undefined;
            turn();
          }, HOLD_MS - (now - heldSince));
          return;
        }
        queue.shift();
        heldSince = -1;
        feed(h, bytesOf(m));
        done(m);
        continue;
      }
      const y = queue.splice(k, 1)[0];
      queue.shift();
      heldSince = -1;
      const hy = hashes.get(y.id);
      const a = bytesOf(m);
      const b = bytesOf(y);
      Sha256.update2(h.sha256, a, hy.sha256, b);
      if (h.git) h.git.update(a);
      if (hy.git) hy.git.update(b);
      done(m);
      done(y);
      continue;
    }
    queue.shift();
    if (m.t === "new") {
      const git = m.git ? createHash("sha1").update("blob " + m.size + "\\0") : null;
      hashes.set(m.id, { sha256: native ? new Sha256() : createHash("sha256"), git, last: -Infinity });
    } else if (m.t === "d") {
      const h = hashes.get(m.id);
      hashes.delete(m.id);
      parentPort.postMessage({ id: m.id, sha256: h.sha256.digest("hex"), gitOid: h.git ? h.git.digest("hex") : null });
    } else if (m.t === "drop") {
      hashes.delete(m.id);
    }
  }
};
parentPort.on("message", (m) => {
  if (m.sab) slabs.set(m.slab, new Uint8Array(m.sab));
  const h = hashes.get(m.id);
  if (h) h.last = performance.now();
  queue.push(m);
  if (hold !== undefined) {
    clearTimeout(hold);
    hold = undefined;
  }
  if (!scheduled) {
    scheduled = true;
    setImmediate(turn);
  }
});
`;

export class HashPool {
  private readonly workers: Worker[];
  private next = 0;
  private ids = 0;
  private readonly waiting = new Map<number, { resolve: (d: Digest) => void; reject: (e: unknown) => void }>();
  /** Shared-memory updates in flight: their release, by ack id. */
  private readonly lent = new Map<number, () => void>();
  private acks = 0;
  /**
   * Shared slabs each worker already holds, by id: a SharedArrayBuffer crosses to a worker once, later
   * updates name it by id (posting the buffer each time cost about as much as the hash it saved).
   */
  private readonly shared = new WeakMap<Worker, WeakMap<SharedArrayBuffer, number>>();
  private slabIds = 0;
  private failure: unknown;

  /** How the threads hash: "sha-ni-x2" (the addon, two files at a time) or "node:crypto". */
  readonly engine: "sha-ni-x2" | "node:crypto";

  /** `addon`: the SHA-NI addon's path (null: none); by default the built one, when this CPU can run it. */
  constructor(size: number, addon: string | null = sha256AddonPath() ?? null) {
    const usable = addon !== null && loadSha256Native(addon) !== undefined;
    this.engine = usable ? "sha-ni-x2" : "node:crypto";
    const workerData = { sha256Addon: usable ? addon : null };
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      // Not unref'd: a digest in flight must keep the process alive. close() ends them.
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData });
      w.on("message", (m: ({ id: number } & Digest) | { ack: number }) => {
        if ("ack" in m) {
          const release = this.lent.get(m.ack);
          this.lent.delete(m.ack);
          release?.();
          return;
        }
        const p = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        p?.resolve({ sha256: m.sha256, gitOid: m.gitOid });
      });
      w.on("error", (err) => this.fail(err));
      w.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`hash worker exited with code ${code}`));
      });
      return w;
    });
  }

  /** A hash on the next worker (round robin): all updates of one hash go to one worker, in order. */
  create(size: number, gitBlob: boolean): IncrementalHash {
    const id = ++this.ids;
    const worker = this.workers[this.next++ % this.workers.length]!;
    worker.postMessage({ t: "new", id, size, git: gitBlob });
    return {
      update: (buf, release) => {
        const sab = buf.buffer;
        if (release && sab instanceof SharedArrayBuffer && this.failure === undefined) {
          const ack = ++this.acks;
          this.lent.set(ack, release);
          let known = this.shared.get(worker);
          if (!known) this.shared.set(worker, (known = new WeakMap()));
          const slab = known.get(sab);
          if (slab !== undefined) {
            worker.postMessage({ t: "s", id, slab, off: buf.byteOffset, len: buf.length, ack });
          } else {
            const fresh = ++this.slabIds;
            known.set(sab, fresh);
            worker.postMessage({ t: "s", id, slab: fresh, sab, off: buf.byteOffset, len: buf.length, ack });
          }
          return;
        }
        // Cloning a view would clone its whole ArrayBuffer: copy just the bytes, and transfer the copy.
        const copy = new Uint8Array(buf);
        worker.postMessage({ t: "u", id, b: copy }, [copy.buffer]);
        release?.();
      },
      digest: () => {
        if (this.failure !== undefined) return Promise.reject(this.failure);
        return new Promise<Digest>((resolve, reject) => {
          this.waiting.set(id, { resolve, reject });
          worker.postMessage({ t: "d", id });
        });
      },
      abandon: () => worker.postMessage({ t: "drop", id }),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    // A dead worker will not hand the memory back; nothing reads it any more.
    for (const release of this.lent.values()) release();
    this.lent.clear();
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }
}
