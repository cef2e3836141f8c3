// A corporate network: the Hub is reached only through a proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and its
// certificate is signed by the company's own CA, given to the downloader as the Job gives it
// (NODE_EXTRA_CA_CERTS on a file from the chart's weights.caBundle ConfigMap). The real CLI runs as a
// process; the Hub simulator sits behind a TLS front with a certificate from a CA made here by openssl,
// and the proxy is a small CONNECT / forward proxy that records what went through it. All on loopback.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { startHubServer, type HubServer } from "../sim/hub/server.ts";
import { uniformRepo } from "../sim/hub/repo.ts";

const CLI = fileURLToPath(new URL("../../../bin/deepseek-operator", import.meta.url));
const repo = uniformRepo({ files: 3, fileSize: 256 * 1024, id: "org/model" });

let hub: HubServer;
let front: tls.Server;
let proxy: http.Server;
let pki: string;
let hubsUrl = "";
let proxyUrl = "";
/** What went through the proxy: "CONNECT host:port" or "GET http://...". */
const seen: string[] = [];

/** A CA and a server certificate for localhost and 127.0.0.1, signed by it. */
function makePki(dir: string): void {
  const ssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt"].concat([
      "-days",
      "2",
      "-subj",
      "/CN=corp-test-ca",
    ]),
  );
  ssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "hub.key", "-out", "hub.csr", "-subj", "/CN=localhost"]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  ssl(
    ["x509", "-req", "-in", "hub.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"].concat([
      "-days",
      "2",
      "-extfile",
      "san.ext",
      "-out",
      "hub.crt",
    ]),
  );
}

beforeAll(async () => {
  pki = mkdtempSync(join(tmpdir(), "dso-pki-"));
  makePki(pki);
  hub = await startHubServer({ repos: [repo], host: "127.0.0.1", port: 0 });
  const hubPort = Number(new URL(hub.url).port);
  // TLS in front of the simulator's Hub port; its CDN stays plain http (reached through HTTP_PROXY).
  front = tls.createServer(
    { key: readFileSync(join(pki, "hub.key")), cert: readFileSync(join(pki, "hub.crt")) },
    (s) => {
      const up = net.connect(hubPort, "127.0.0.1");
      s.pipe(up).pipe(s);
      s.on("error", () => up.destroy());
      up.on("error", () => s.destroy());
    },
  );
  await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
  hubsUrl = `https://localhost:${(front.address() as AddressInfo).port}`;
  proxy = http.createServer((req, res) => {
    // Forward form: "GET http://host/path".
    seen.push(`${req.method} ${req.url}`);
    const up = http.request(req.url!, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  proxy.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? "").split(":");
    const up = net.connect(Number(port), host === "localhost" ? "127.0.0.1" : host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      up.write(head);
      up.pipe(client).pipe(up);
    });
    up.on("error", () => client.destroy());
    client.on("error", () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise<void>((r) => proxy.close(() => r()));
  await new Promise<void>((r) => front.close(() => r()));
  await hub.close();
});

function pull(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "dso-network-"));
  const args = ["weights", "pull", "--repo", repo.id, "--revision", repo.revision, "--dir", dir, "--endpoint", hubsUrl];
  return new Promise<{ code: number; out: string; dir: string }>((resolve) => {
    execFile(
      CLI,
      [...args, "--stall-timeout", "5", "--timeout", "60"],
      { env: { PATH: process.env.PATH ?? "", HOME: tmpdir(), ...env }, timeout: 90_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr, dir }),
    );
  });
}

const pulled = (dir: string) => repo.files.every((f) => existsSync(join(dir, f.path)));

describe("the downloader on a network behind a proxy and a company CA", () => {
  it("pulls every file through the proxy, trusting the CA from NODE_EXTRA_CA_CERTS", async () => {
    seen.length = 0;
    const r = await pull({
      HTTPS_PROXY: proxyUrl,
      HTTP_PROXY: proxyUrl,
      NODE_EXTRA_CA_CERTS: join(pki, "ca.crt"),
    });
    expect(r.out).toMatch(/"rangeClient":"undici"/);
    expect(r.code).toBe(0);
    expect(pulled(r.dir)).toBe(true);
    // The Hub through a tunnel, the CDN's plain-http bytes through the proxy too.
    expect(seen).toContain(`CONNECT ${new URL(hubsUrl).host}`);
    const cdn = new URL(hub.cdnUrl!).host;
    expect(seen.some((s) => s === `CONNECT ${cdn}` || s.startsWith(`GET http://${cdn}/`))).toBe(true);
  });

  it("stops at once on a certificate it does not trust, and says which setting fixes it", async () => {
    seen.length = 0;
    const r = await pull({ HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/weights\.caBundle/);
    // Permanent: one refusal, not a retry loop until the timeout.
    expect(r.out).not.toMatch(/retrying/);
    expect(seen.filter((s) => s.startsWith("CONNECT"))).not.toHaveLength(0);
    expect(pulled(r.dir)).toBe(false);
  });

  it("goes direct to hosts in NO_PROXY", async () => {
    seen.length = 0;
    const r = await pull({
      HTTPS_PROXY: proxyUrl,
      HTTP_PROXY: proxyUrl,
      NO_PROXY: "localhost,127.0.0.1",
      NODE_EXTRA_CA_CERTS: join(pki, "ca.crt"),
    });
    expect(r.code).toBe(0);
    expect(pulled(r.dir)).toBe(true);
    expect(seen).toEqual([]);
  });
});
