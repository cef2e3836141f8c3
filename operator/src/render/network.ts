// The download Jobs' network settings (the chart's weights.proxy and weights.caBundle), checked once by one
// schema: the chart's values.schema.json and the operator's flags both use these fields.
import { z } from "zod";
import { configKey, dnsSubdomain } from "../api/k8s-names.ts";
import type { DownloadNetwork } from "./types.ts";

/** A proxy as curl and undici take it: http(s)://[user:password@]host[:port], nothing after the authority. */
export const proxyUrl = z
  .string()
  .max(2048)
  .regex(/^https?:\/\/([^\s/?#@]+@)?([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9a-fA-F:.]+\])(:\d{1,5})?\/?$/, {
    message: "must be an http:// or https:// proxy URL such as http://proxy.example.com:3128, without a path or query",
  })
  .describe("A proxy URL such as http://proxy.example.com:3128.");

/** One NO_PROXY entry: a host, a domain (.example.com), an IP, a CIDR block, any of them with :port, or *. */
export const noProxyEntry = z
  .string()
  .max(253)
  .regex(/^(\*|\.?[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(\/\d{1,2})?(:\d{1,5})?|[0-9a-fA-F:]+(\/\d{1,3})?)$/, {
    message: "must be a host, a .domain, an IP address or CIDR block, optionally with :port, or *",
  })
  .describe("A host, .domain, address or CIDR block reached without the proxy.");

export const caBundleRef = z
  .strictObject({
    configMap: dnsSubdomain("A ConfigMap in each deployment's namespace (for example one trust-manager distributes)."),
    key: configKey("The key holding the PEM bundle."),
  })
  .describe("Extra CAs the downloader trusts besides the public roots.");

/**
 * The operator's flags as DownloadNetwork; empty strings are unset. Throws an Error naming the flag of the
 * first bad value.
 */
export function downloadNetworkFromFlags(f: {
  httpsProxy: string;
  httpProxy: string;
  noProxy: string;
  caConfigMap: string;
  caKey: string;
}): DownloadNetwork | undefined {
  const flag = (name: string, schema: z.ZodType, v: unknown) => {
    const r = schema.safeParse(v);
    if (!r.success) throw new Error(`${name}: ${JSON.stringify(v)} ${r.error.issues[0]?.message ?? "is invalid"}`);
  };
  const out: DownloadNetwork = {};
  if (f.httpsProxy) {
    flag("--job-https-proxy", proxyUrl, f.httpsProxy);
    out.httpsProxy = f.httpsProxy;
  }
  if (f.httpProxy) {
    flag("--job-http-proxy", proxyUrl, f.httpProxy);
    out.httpProxy = f.httpProxy;
  }
  const noProxy = f.noProxy
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const e of noProxy) flag("--job-no-proxy", noProxyEntry, e);
  if (noProxy.length > 0) out.noProxy = noProxy;
  if (f.caConfigMap) {
    const caBundle = { configMap: f.caConfigMap, key: f.caKey || "ca.crt" };
    flag("--job-ca-configmap", caBundleRef.shape.configMap, caBundle.configMap);
    flag("--job-ca-key", caBundleRef.shape.key, caBundle.key);
    out.caBundle = caBundle;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
