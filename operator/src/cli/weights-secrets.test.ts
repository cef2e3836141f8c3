// The token and the CDN's signed URLs never leave the downloader: not in its log lines, not in its
// error messages, not when the Hub refuses the token, not when the CDN fails. And under the operator's
// token policy (its env), the token is never sent to an endpoint the administrator did not allow.
// The real CLI runs as a process against the Hub simulator on loopback.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startHubServer, type HubServer } from "../sim/hub/server.ts";
import { uniformRepo } from "../sim/hub/repo.ts";

const CLI = fileURLToPath(new URL("../../../bin/deepseek-operator", import.meta.url));
const TOKEN = "hf_S3cretTokenValue0123456789";
const repo = uniformRepo({ files: 3, fileSize: 256 * 1024, id: "org/model" });

let hub: HubServer;

beforeAll(async () => {
  hub = await startHubServer({ repos: [repo], host: "127.0.0.1", port: 0, token: TOKEN });
});
afterAll(async () => {
  await hub.close();
});

function pull(env: Record<string, string>, extra: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "dso-secrets-"));
  const args = ["weights", "pull", "--repo", repo.id, "--revision", repo.revision, "--dir", dir, "--endpoint", hub.url];
  return new Promise<{ code: number; out: string; dir: string }>((resolve) => {
    execFile(
      CLI,
      [...args, "--stall-timeout", "5", "--timeout", "60", ...extra],
      { env: { PATH: process.env.PATH ?? "", HOME: tmpdir(), LOG_LEVEL: "debug", ...env }, timeout: 90_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr, dir }),
    );
  });
}

/** Every file the downloader left behind (its state file, partial files' sidecars), as text. */
function leftBehind(dir: string): string {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => {
      const p = join(d, f);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  return walk(dir)
    .filter((p) => statSync(p).size < 1 << 20)
    .map((p) => readFileSync(p, "utf8"))
    .join("\n");
}

const SIGNED = /[?&]sig=[0-9a-f]+/;

describe("the downloader keeps the token and signed URLs to itself", () => {
  it("a refused token appears in no output and no file", async () => {
    const wrong = "hf_WrongTokenValue9876543210";
    const r = await pull({ HF_TOKEN: wrong });
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/Unauthorized/);
    expect(r.out).not.toContain(wrong);
    expect(leftBehind(r.dir)).not.toContain(wrong);
  });

  it("a failing CDN leaves its signed URL in no log line or error message", async () => {
    hub.clearFaults();
    hub.setFault({ kind: "status", status: 500, route: "cdn", times: 2 });
    hub.setFault({ kind: "drop", afterBytes: 1000, times: 1 });
    const r = await pull({ HF_TOKEN: TOKEN });
    hub.clearFaults();
    expect(r.code).toBe(0);
    // The failures were logged (so the test looks where a leak would be), without the signature.
    expect(r.out).toMatch(/HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/lfs\/[^ ]*\?<redacted>/);
    expect(r.out).not.toMatch(SIGNED);
    expect(r.out).not.toContain(TOKEN);
    expect(leftBehind(r.dir)).not.toMatch(SIGNED);
    expect(leftBehind(r.dir)).not.toContain(TOKEN);
  });
});

describe("under the operator's token policy", () => {
  it("sends no request at all to an endpoint that may not receive the token", async () => {
    const before = hub.requestLog.length;
    const r = await pull({ HF_TOKEN: TOKEN, DSO_TOKEN_ORIGINS: "https://huggingface.co", DSO_PLAIN_HTTP_ORIGINS: "" });
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/may not receive a token/);
    expect(hub.requestLog.length).toBe(before);
  });

  it("refuses plain http for an allowed origin unless it is allowed over http too", async () => {
    const before = hub.requestLog.length;
    const r = await pull({ HF_TOKEN: TOKEN, DSO_TOKEN_ORIGINS: hub.url, DSO_PLAIN_HTTP_ORIGINS: "" });
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/must use https/);
    expect(hub.requestLog.length).toBe(before);
  });

  it("pulls when the origin is allowed", async () => {
    const r = await pull({ HF_TOKEN: TOKEN, DSO_TOKEN_ORIGINS: hub.url, DSO_PLAIN_HTTP_ORIGINS: hub.url });
    expect(r.out).not.toContain(TOKEN);
    expect(r.code).toBe(0);
  });
});
