// The simulator speaks the Hub's shapes (tree entries, resolve redirect headers, ranges, error codes)
// and its faults do what they say: the downloader's tests are only as good as this.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { FileContent, safetensorsHeader } from "./content.ts";
import { uniformRepo, v4FlashShapedRepo, V4_FLASH_REPO, V4_FLASH_REVISION } from "./repo.ts";
import { parseRange, startHubServer, type HubServer } from "./server.ts";

let hub: HubServer;
const small = uniformRepo({ files: 2, fileSize: 300_000, id: "t/two" });

beforeAll(async () => {
  hub = await startHubServer({
    repos: [v4FlashShapedRepo({ shardSize: 10_000, shards: 3 }), small],
    token: "tok",
    pageSize: 2,
  });
});
afterAll(async () => {
  await hub.close();
});

const auth = { authorization: "Bearer tok" };
const get = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers: { ...auth, ...headers }, redirect: "manual" });

describe("content", () => {
  it("is a deterministic function of (seed, path, offset)", () => {
    const spec = { kind: "generated" as const, size: 100_000, prefix: safetensorsHeader(100_000, "w")! };
    const a = new FileContent("s", "f", spec);
    const whole = a.read(0, a.size);
    expect(a.read(12_345, 54_321)).toEqual(whole.subarray(12_345, 54_321));
    expect(new FileContent("s", "f", spec).read(0, a.size)).toEqual(whole);
    expect(new FileContent("s2", "f", spec).read(0, a.size)).not.toEqual(whole);
    expect(whole.readBigUInt64LE(0)).toBe(BigInt(spec.prefix.length - 8));
  });

  it("parses single byte ranges", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ start: 0, end: 100 });
    expect(parseRange("bytes=900-", 1000)).toEqual({ start: 900, end: 1000 });
    expect(parseRange("bytes=-10", 1000)).toEqual({ start: 990, end: 1000 });
    expect(parseRange("bytes=995-2000", 1000)).toEqual({ start: 995, end: 1000 });
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
    expect(parseRange(undefined, 1000)).toBeUndefined();
  });
});

describe("Hub API shapes", () => {
  it("resolves a branch to the commit and pages the tree with Link headers", async () => {
    const rev = await (await get(`${hub.url}/api/models/${V4_FLASH_REPO}/revision/main`)).json();
    expect(rev).toMatchObject({ id: V4_FLASH_REPO, sha: V4_FLASH_REVISION });
    const first = await get(`${hub.url}/api/models/${V4_FLASH_REPO}/tree/${V4_FLASH_REVISION}?recursive=true`);
    const entries = (await first.json()) as { path: string }[];
    expect(entries).toHaveLength(2);
    expect(first.headers.get("link")).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/api\/models\/.*cursor=2>; rel="next"$/);
    const all = hub.listing(V4_FLASH_REPO);
    expect(all.map((f) => f.path)).toEqual([
      "config.json",
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
      "model.safetensors.index.json",
      "tokenizer_config.json",
    ]);
    expect(entries[0]).toEqual({ type: "file", oid: all[0]!.gitOid, size: all[0]!.size, path: "config.json" });
    expect(entries[1]).toMatchObject({
      type: "file",
      path: "model-00001-of-00003.safetensors",
      lfs: { oid: all[1]!.sha256, size: 10_000, pointerSize: 134 },
    });
  });

  it("redirects LFS files to the CDN origin with the linked size, etag and commit, and serves ranges there", async () => {
    const f = hub.listing(V4_FLASH_REPO)[2]!;
    const r = await get(`${hub.url}/${V4_FLASH_REPO}/resolve/main/${f.path}`);
    expect(r.status).toBe(302);
    expect(r.headers.get("x-repo-commit")).toBe(V4_FLASH_REVISION);
    expect(r.headers.get("x-linked-etag")).toBe(`"${f.sha256}"`);
    expect(r.headers.get("x-linked-size")).toBe("10000");
    const location = r.headers.get("location")!;
    expect(location.startsWith(hub.cdnUrl!)).toBe(true);
    const whole = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(createHash("sha256").update(whole).digest("hex")).toBe(f.sha256);
    const part = await fetch(location, { headers: { range: "bytes=100-199" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 100-199/10000");
    expect(Buffer.from(await part.arrayBuffer())).toEqual(whole.subarray(100, 200));
    expect((await fetch(location.replace(/sig=[0-9a-f]+/, "sig=forged"))).status).toBe(403);
  });

  it("serves small files inline with their git blob id as the ETag", async () => {
    const f = hub.listing(V4_FLASH_REPO).find((x) => x.path === "config.json")!;
    const r = await get(`${hub.url}/${V4_FLASH_REPO}/resolve/${V4_FLASH_REVISION}/config.json`);
    expect(r.status).toBe(200);
    expect(r.headers.get("etag")).toBe(`"${f.gitOid}"`);
    const body = Buffer.from(await r.arrayBuffer());
    expect(createHash("sha1").update(`blob ${body.length}\0`).update(body).digest("hex")).toBe(f.gitOid);
    expect(JSON.parse(body.toString())).toMatchObject({ model_type: "deepseek_v4", num_hidden_layers: 43 });
  });

  it("answers with the Hub's error codes", async () => {
    expect((await fetch(`${hub.url}/api/models/${V4_FLASH_REPO}/revision/main`)).status).toBe(401);
    expect(
      (await get(`${hub.url}/api/models/${V4_FLASH_REPO}/revision/main`, { authorization: "Bearer nope" })).status,
    ).toBe(401);
    const repo = await get(`${hub.url}/api/models/nobody/nothing/revision/main`);
    expect([repo.status, repo.headers.get("x-error-code")]).toEqual([404, "RepoNotFound"]);
    const rev = await get(`${hub.url}/api/models/${V4_FLASH_REPO}/revision/${"0".repeat(40)}`);
    expect([rev.status, rev.headers.get("x-error-code")]).toEqual([404, "RevisionNotFound"]);
    const entry = await get(`${hub.url}/${V4_FLASH_REPO}/resolve/main/nope.bin`);
    expect([entry.status, entry.headers.get("x-error-code")]).toEqual([404, "EntryNotFound"]);
  });

  it("publishes a plain-folder view with SHA256SUMS", async () => {
    const text = await (await get(`${hub.plainUrl("t/two")}/SHA256SUMS`)).text();
    const listing = hub.listing("t/two");
    expect(text).toBe(listing.map((f) => `${f.sha256}  ${f.path}\n`).join(""));
  });
});

describe("faults", () => {
  const cdnOf = async (path: string) => (await get(`${hub.url}/t/two/resolve/main/${path}`)).headers.get("location")!;

  it("drops the connection at the given file offset, once", async () => {
    const path = "model-00001-of-00002.safetensors";
    hub.setFault({ kind: "drop", path, afterBytes: 123_456 });
    const url = await cdnOf(path);
    const before = hub.bytesServed(path);
    await expect(fetch(url).then((r) => r.arrayBuffer())).rejects.toThrow();
    expect(hub.bytesServed(path) - before).toBe(123_456);
    const ok = await fetch(url).then((r) => r.arrayBuffer());
    expect(ok.byteLength).toBe(300_000);
  });

  it("corrupts exactly the given range", async () => {
    const path = "model-00002-of-00002.safetensors";
    const url = await cdnOf(path);
    const good = Buffer.from(await (await fetch(url)).arrayBuffer());
    hub.setFault({ kind: "corrupt", path, offset: 1000, length: 3 });
    const bad = Buffer.from(await (await fetch(url, { headers: { range: "bytes=900-1099" } })).arrayBuffer());
    const diff = [...bad.keys()].filter((i) => bad[i] !== good[900 + i]).map((i) => 900 + i);
    expect(diff).toEqual([1000, 1001, 1002]);
  });

  it("answers an injected status N times, then normally", async () => {
    hub.setFault({ kind: "status", status: 503, route: "tree", times: 2, retryAfter: 3 });
    const url = `${hub.url}/api/models/t/two/tree/main?recursive=true`;
    const a = await get(url);
    expect([a.status, a.headers.get("retry-after")]).toEqual([503, "3"]);
    expect((await get(url)).status).toBe(503);
    expect((await get(url)).status).toBe(200);
  });

  it("limits the rate of a response", async () => {
    const path = "model-00001-of-00002.safetensors";
    hub.setFault({ kind: "rate", path, bytesPerSecond: 1_000_000, times: 1 });
    const url = await cdnOf(path);
    const r = await fetch(url, { headers: { range: "bytes=0-99999" } });
    expect((await r.arrayBuffer()).byteLength).toBe(100_000);
    expect(hub.requestLog.at(-1)!.fault).toBe("rate 1000000");
    hub.clearFaults();
  });
});
