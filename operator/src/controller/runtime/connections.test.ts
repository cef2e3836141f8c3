import { describe, expect, it } from "@jest/globals";
import { KubeConfig, RequestContext, HttpMethod } from "@kubernetes/client-node";
import { shareConnections } from "./connections.ts";

function config(user: { token?: string; certData?: string; keyData?: string }): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:1", skipTLSVerify: true }],
    users: [{ name: "u", ...user }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return kc;
}

async function dispatcherOf(kc: KubeConfig) {
  const ctx = new RequestContext("https://127.0.0.1:1/api", HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return { dispatcher: ctx.getDispatcher(), auth: ctx.getHeaders()["Authorization"] };
}

describe("shareConnections", () => {
  it("client-node alone builds a new dispatcher per request (the premise)", async () => {
    const kc = config({ token: "t" });
    expect((await dispatcherOf(kc)).dispatcher).not.toBe((await dispatcherOf(kc)).dispatcher);
  });

  it("reuses one dispatcher per TLS identity and keeps the auth headers", async () => {
    const kc = config({ token: "t" });
    shareConnections(kc);
    shareConnections(kc); // idempotent
    const a = await dispatcherOf(kc);
    const b = await dispatcherOf(kc);
    expect(a.dispatcher).toBeDefined();
    expect(b.dispatcher).toBe(a.dispatcher);
    expect(b.auth).toBe("Bearer t");
  });

  it("different client certificates get different pools", async () => {
    const pem = (s: string) => Buffer.from(`-----BEGIN X-----\n${s}\n-----END X-----\n`).toString("base64");
    const kc = config({ certData: pem("one"), keyData: pem("k") });
    shareConnections(kc);
    const first = await dispatcherOf(kc);
    expect((await dispatcherOf(kc)).dispatcher).toBe(first.dispatcher);
    kc.users[0] = { name: "u", certData: pem("two"), keyData: pem("k") };
    const rotated = await dispatcherOf(kc);
    expect(rotated.dispatcher).not.toBe(first.dispatcher);
    expect((await dispatcherOf(kc)).dispatcher).toBe(rotated.dispatcher);
  });
});
