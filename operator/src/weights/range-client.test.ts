// The range client against small servers that misbehave in the ways real ones do.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { HttpStatusError, StallError } from "./errors.ts";
import { LOCATION_TTL_MS } from "./locations.ts";
import { RangeClient, SLAB, type Ranges } from "./range-client.ts";
import { UndiciRangeClient } from "./undici-ranges.ts";

// Several slabs long, so that slabs are retired and reused within one fetch; random bytes, so that a slab
// reused too early cannot hold the same bytes by chance (a pattern with the slab's period would).
const FILE = randomBytes(Math.floor(2.5 * SLAB) + 123);
let server: http.Server;
let base = "";
let connections = 0;
let mode: "range" | "ignore-range" | "chunked" | "slow-start" | "close-idle" = "range";
/** Requests to /signed (the resolve step), and the signature /file?sig= accepts now (older ones are expired). */
let resolves = 0;
let signature = 1;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/redirect") {
      res.writeHead(302, { location: `${base}/file`, "content-length": 0 });
      return res.end();
    }
    if (req.url === "/signed") {
      resolves++;
      res.writeHead(302, {
        location: `${base}/file?sig=${signature}`,
        "x-repo-commit": `c${signature}`,
        "content-length": 0,
      });
      return res.end();
    }
    const sig = /[?&]sig=(\d+)/.exec(req.url ?? "");
    if (sig && Number(sig[1]) !== signature) {
      res.writeHead(403, { "content-length": 0 });
      return res.end();
    }
    if (req.url === "/gone") {
      res.writeHead(404, {
        "x-error-code": "EntryNotFound",
        "x-error-message": "Entry not found",
        "content-length": 0,
      });
      return res.end();
    }
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? "");
    if (mode === "slow-start") return; // never answers
    if (mode === "chunked") {
      res.writeHead(206, { "transfer-encoding": "chunked" });
      return res.end(FILE.subarray(0, 10));
    }
    if (mode === "ignore-range" || !m) {
      res.writeHead(200, { "content-length": FILE.length });
      return res.end(FILE);
    }
    const [s, e] = [Number(m[1]), Number(m[2]) + 1];
    res.writeHead(206, {
      "content-length": e - s,
      "content-range": `bytes ${s}-${e - 1}/${FILE.length}`,
      connection: mode === "close-idle" ? "keep-alive" : "keep-alive",
    });
    res.end(FILE.subarray(s, e));
    // A server that drops idle connections right after answering: the next reuse hits a closed socket.
    if (mode === "close-idle") res.once("finish", () => setTimeout(() => req.socket.destroy(), 5));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** Byte equality without jest's element-by-element diff, which takes seconds on megabytes. */
function same(a: Buffer, b: Buffer): void {
  expect(a.length).toBe(b.length);
  expect(a.equals(b)).toBe(true);
}

async function fetchRange(client: Ranges, url: string, start: number, end: number): Promise<Buffer> {
  const out = Buffer.alloc(end - start);
  let seen = start;
  await client.fetch(url, start, end, {
    onData: (offset, buf) => {
      expect(offset).toBe(seen); // in order, no gaps
      buf.copy(out, offset - start);
      seen += buf.length;
      return undefined;
    },
  });
  expect(seen).toBe(end);
  return out;
}

type Options = { stallTimeoutMs: number; now?: () => number; allocate?: (n: number) => Buffer };
// The socket client serves direct connections; undici's serves networks behind a proxy. Same contract.
describe.each([
  ["RangeClient", (o: Options): Ranges => new RangeClient(o)],
  ["UndiciRangeClient", (o: Options): Ranges => new UndiciRangeClient({ ...o, connections: 4 })],
])("%s", (_name, make) => {
  it("fetches ranges over one reused connection, following redirects", async () => {
    mode = "range";
    const c = make({ stallTimeoutMs: 2000 });
    const before = connections;
    same(await fetchRange(c, `${base}/file`, 0, 1000), FILE.subarray(0, 1000));
    same(await fetchRange(c, `${base}/file`, 1_000_000, FILE.length), FILE.subarray(1_000_000));
    same(await fetchRange(c, `${base}/redirect`, 5, 2_500_000), FILE.subarray(5, 2_500_000));
    expect(connections - before).toBe(1);
    c.close();
  });

  it("resolves a redirecting URL once, fetches later ranges where it led, and resolves again when that target expires", async () => {
    mode = "range";
    let now = 1_000_000;
    const c = make({ stallTimeoutMs: 2000, now: () => now });
    const firstCommits: (string | undefined)[] = [];
    const get = async (start: number, end: number) => {
      const out = Buffer.alloc(end - start);
      await c.fetch(`${base}/signed`, start, end, {
        onResponse: (r) => firstCommits.push(r.firstHeaders["x-repo-commit"]),
        onData: (offset, buf) => (buf.copy(out, offset - start), undefined),
      });
      same(out, FILE.subarray(start, end));
    };
    resolves = 0;
    signature = 1;
    await get(0, 1000);
    await get(1000, 500_000);
    await get(500_000, FILE.length);
    expect(resolves).toBe(1);
    // The resolve answer's headers still come with the reused target's bytes (the downloader checks them).
    expect(firstCommits).toEqual(["c1", "c1", "c1"]);

    signature++; // the signed URL expired: the target answers 403, and the client asks the resolve URL again
    await get(7, 70_000);
    expect(resolves).toBe(2);
    expect(firstCommits.at(-1)).toBe("c2");

    now += LOCATION_TTL_MS; // past the reuse limit, a fresh resolve comes first without a refused request
    await get(70_000, 80_000);
    expect(resolves).toBe(3);
    c.close();
  });

  it("skips to the range when a server ignores Range and sends the whole file", async () => {
    mode = "ignore-range";
    const c = make({ stallTimeoutMs: 2000 });
    same(await fetchRange(c, `${base}/file`, 2_000_000, 2_100_000), FILE.subarray(2_000_000, 2_100_000));
    c.close();
  });

  it("waits for a slow consumer without losing or reordering bytes", async () => {
    mode = "range";
    const c = make({ stallTimeoutMs: 2000 });
    const out: Buffer[] = [];
    await c.fetch(`${base}/file`, 0, FILE.length, {
      onData: (_offset, buf) => {
        out.push(Buffer.from(buf));
        return new Promise((r) => setTimeout(r, 2));
      },
    });
    same(Buffer.concat(out), FILE);
    c.close();
  });

  it("never reuses a slab before its views are released", async () => {
    mode = "range";
    const c = make({ stallTimeoutMs: 2000 });
    const checks: Promise<void>[] = [];
    let bad = 0;
    for (let round = 0; round < 4; round++) {
      await c.fetch(`${base}/file`, 0, FILE.length, {
        onData: (offset, buf, release) => {
          // Hold each view a while, check it is intact, then release it: pooled slabs come back in use meanwhile.
          checks.push(
            new Promise<void>((r) => setTimeout(r, 5 + (offset % 7))).then(() => {
              if (!buf.equals(FILE.subarray(offset, offset + buf.length))) bad++;
              release();
            }),
          );
          return undefined;
        },
      });
    }
    await Promise.all(checks);
    expect(checks.length).toBeGreaterThan(8);
    expect(bad).toBe(0);
    c.close();
  });

  it("places body bytes in aligned slabs congruent to their file offsets, across keep-alive requests", async () => {
    mode = "range";
    const slabs = new Set<ArrayBufferLike>();
    // Each slab is its own ArrayBuffer starting at byteOffset 0: "aligned" as far as the client can tell.
    const c = make({
      stallTimeoutMs: 2000,
      allocate: (n) => {
        const b = Buffer.allocUnsafeSlow(n);
        slabs.add(b.buffer);
        return b;
      },
    });
    for (const [start, end] of [
      [12_345, FILE.length],
      [4096 * 3 + 17, 2_500_000],
      [0, FILE.length],
    ] as const) {
      const out = Buffer.alloc(end - start);
      let misplaced = 0;
      await c.fetch(`${base}/file`, start, end, {
        onData: (offset, buf, release) => {
          if (!slabs.has(buf.buffer) || buf.byteOffset % 4096 !== offset % 4096) misplaced++;
          buf.copy(out, offset - start);
          release();
          return undefined;
        },
      });
      same(out, FILE.subarray(start, end));
      expect(misplaced).toBe(0);
    }
    c.close();
  });

  it("replaces a reused connection the server closed meanwhile", async () => {
    mode = "close-idle";
    const c = make({ stallTimeoutMs: 2000 });
    same(await fetchRange(c, `${base}/file`, 0, 100), FILE.subarray(0, 100));
    await new Promise((r) => setTimeout(r, 30));
    same(await fetchRange(c, `${base}/file`, 100, 200), FILE.subarray(100, 200));
    c.close();
  });

  it("turns error statuses into HttpStatusError with the Hub's error code", async () => {
    mode = "range";
    const c = make({ stallTimeoutMs: 2000 });
    const err = await c.fetch(`${base}/gone`, 0, 10, { onData: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err).toMatchObject({ status: 404, hubErrorCode: "EntryNotFound" });
    c.close();
  });

  it("refuses a chunked file body, and gives up on a server that never answers", async () => {
    mode = "chunked";
    const c = make({ stallTimeoutMs: 150 });
    await expect(c.fetch(`${base}/file`, 0, 10, { onData: () => undefined })).rejects.toThrow(/Content-Length/);
    mode = "slow-start";
    await expect(c.fetch(`${base}/file`, 0, 10, { onData: () => undefined })).rejects.toBeInstanceOf(StallError);
    c.close();
  });
});
