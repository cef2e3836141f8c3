import { describe, expect, it } from "@jest/globals";
import { downloadNetworkFromFlags } from "./network.ts";

const none = { httpsProxy: "", httpProxy: "", noProxy: "", caConfigMap: "", caKey: "" };

describe("downloadNetworkFromFlags", () => {
  it("takes a proxy, NO_PROXY entries of every kind and a CA ConfigMap", () => {
    expect(
      downloadNetworkFromFlags({
        ...none,
        httpsProxy: "http://user:pw@proxy.corp.example:3128",
        httpProxy: "https://proxy.corp.example",
        noProxy: " localhost, .svc,10.0.0.0/8,192.168.1.7:8080,fd00::1,*,",
        caConfigMap: "corp-ca",
      }),
    ).toEqual({
      httpsProxy: "http://user:pw@proxy.corp.example:3128",
      httpProxy: "https://proxy.corp.example",
      noProxy: ["localhost", ".svc", "10.0.0.0/8", "192.168.1.7:8080", "fd00::1", "*"],
      caBundle: { configMap: "corp-ca", key: "ca.crt" },
    });
  });

  it("is unset when no flag is", () => {
    expect(downloadNetworkFromFlags(none)).toBeUndefined();
  });

  it.each([
    [{ httpsProxy: "proxy.corp:3128" }, /^--job-https-proxy: "proxy.corp:3128" must be an http/],
    [{ httpProxy: "socks5://p:1080" }, /^--job-http-proxy: .* must be an http/],
    [{ httpsProxy: "http://p:3128/path?x=1" }, /^--job-https-proxy: .* without a path or query/],
    [{ noProxy: "a.example,$(id)" }, /^--job-no-proxy: "\$\(id\)" must be a host/],
    [{ noProxy: "a b" }, /^--job-no-proxy: "a b" must be a host/],
    [{ caConfigMap: "Corp_CA" }, /^--job-ca-configmap: "Corp_CA"/],
    [{ caConfigMap: "corp-ca", caKey: "../etc/passwd" }, /^--job-ca-key: "..\/etc\/passwd"/],
  ])("refuses %j, naming the flag", (bad, message) => {
    expect(() => downloadNetworkFromFlags({ ...none, ...bad })).toThrow(message);
  });
});
