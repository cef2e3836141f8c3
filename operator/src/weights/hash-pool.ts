// sha256 (and the git blob id of small files) on worker threads. One JS thread hashes about 1.5 GB/s
// at best, and it also has to drive every socket and write: on a fast link the hash would be the
// download rate, and on a busy node one thread gets one share of the CPU however many files it serves.
// Bytes in shared memory (the range client's direct-I/O slabs) are hashed where they are: the worker is
// told where they lie and hands them back (`release`) once hashed. Other bytes are copied once and the
// copy transferred: the writer keeps the original.
import { Worker } from "node:worker_threads";
import { asError } from "../util/errors.ts";

export type Digest = { sha256: string; gitOid: string | null };

/** An incremental hash: bytes in order, then one digest (or abandon, to free it unused). */
export interface IncrementalHash {
  /** `release` runs once `buf` is no longer read (at once, or after a worker hashed it in place). */
  update(buf: Buffer, release?: () => void): void;
  digest(): Promise<Digest>;
  abandon(): void;
}

// Plain JavaScript (eval'd), so it runs the same under Node's type stripping and under ts-jest. Messages
// are handled in arrival order, which is each file's byte order. Shared slabs are registered as their
// first message arrives; later messages name them by id.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
const slabs = new Map();
parentPort.on("message", (m) => {
  if (m.sab) slabs.set(m.slab, new Uint8Array(m.sab));
  if (m.t === "u" || m.t === "s") {
    const h = hashes.get(m.id);
    const b = m.t === "u" ? m.b : slabs.get(m.slab).subarray(m.off, m.off + m.len);
    h.sha256.update(b);
    if (h.git) h.git.update(b);
    if (m.t === "s") parentPort.postMessage({ ack: m.ack });
  } else if (m.t === "new") {
    const git = m.git ? createHash("sha1").update("blob " + m.size + "\\0") : null;
    hashes.set(m.id, { sha256: createHash("sha256"), git });
  } else if (m.t === "d") {
    const h = hashes.get(m.id);
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, sha256: h.sha256.digest("hex"), gitOid: h.git ? h.git.digest("hex") : null });
  } else if (m.t === "drop") {
    hashes.delete(m.id);
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
  private failure: Error | undefined;

  constructor(size: number) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      // Not unref'd: a digest in flight must keep the process alive. close() ends them.
      const w = new Worker(WORKER_SOURCE, { eval: true });
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
    this.failure ??= asError(err);
    // A dead worker will not hand the memory back; nothing reads it any more.
    for (const release of this.lent.values()) release();
    this.lent.clear();
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }
}
