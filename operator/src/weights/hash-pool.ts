// sha256 (and the git blob id of small files) on worker threads. One JS thread hashes about 1.5 GB/s
// at best, and it also has to drive every socket and write: on a fast link the hash would be the
// download rate, and on a busy node one thread gets one share of the CPU however many files it serves.
// Each update copies its bytes once and hands the copy over: the writer keeps the original, and a
// copy (~10 GB/s) is several times cheaper than the sha256 it moves off the main thread.
import { Worker } from "node:worker_threads";

export type Digest = { sha256: string; gitOid: string | null };

/** An incremental hash: bytes in order, then one digest (or abandon, to free it unused). */
export interface IncrementalHash {
  update(buf: Buffer): void;
  digest(): Promise<Digest>;
  abandon(): void;
}

// Plain JavaScript (eval'd), so it runs the same under Node's type stripping and under ts-jest.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.t === "new") {
    const git = m.git ? createHash("sha1").update("blob " + m.size + "\\0") : null;
    hashes.set(m.id, { sha256: createHash("sha256"), git });
  } else if (m.t === "u") {
    const h = hashes.get(m.id);
    h.sha256.update(m.b);
    if (h.git) h.git.update(m.b);
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
  private failure: unknown;

  constructor(size: number) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      // Not unref'd: a digest in flight must keep the process alive. close() ends them.
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on("message", (m: { id: number } & Digest) => {
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
      update: (buf) => {
        // Cloning a view would clone its whole ArrayBuffer: copy just the bytes, and transfer the copy.
        const copy = new Uint8Array(buf);
        worker.postMessage({ t: "u", id, b: copy }, [copy.buffer]);
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
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }
}
