// Where a download token may go. A tenant who may create a DeepSeekDeployment but not read Secrets
// could otherwise name any Secret of the namespace as tokenSecretRef and point the endpoint at their
// own server: the download Job would read the Secret (the kubelet resolves secretKeyRef) and send it
// there. So a token goes only to an origin the administrator lists (the chart's value; the Hugging
// Face Hub by default), and only over HTTPS unless the administrator allows that origin over plain
// HTTP (a test Hub on loopback). The operator checks it before rendering the Job; the downloader,
// which gets the same lists from the operator in its env, checks it again before sending anything.
import type { DeepSeekDeploymentSpec } from "../api/index.ts";

export interface TokenPolicy {
  /** Origins (scheme://host[:port]) a token may be sent to. */
  tokenOrigins: readonly string[];
  /** Of those, the origins that may be reached over plain http. */
  plainHttpOrigins: readonly string[];
}

export const DEFAULT_TOKEN_POLICY: TokenPolicy = { tokenOrigins: ["https://huggingface.co"], plainHttpOrigins: [] };

/** Env names under which the Job's downloader gets the policy (rendered by the operator, never by a user). */
export const TOKEN_ORIGINS_ENV = "DSO_TOKEN_ORIGINS";
export const PLAIN_HTTP_ORIGINS_ENV = "DSO_PLAIN_HTTP_ORIGINS";

/** The origin of a URL, or undefined when it is not one. */
export function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.origin === "null" ? undefined : u.origin;
  } catch {
    return undefined;
  }
}

/** Parses a comma-separated list of URLs into origins; throws naming the bad entry. */
export function parseOrigins(list: string, what: string): string[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const o = originOf(s);
      if (!o || !/^https?:$/.test(new URL(s).protocol)) throw new Error(`${what}: not an http(s) URL: ${s}`);
      return o;
    });
}

/** Why `endpoint` may not receive a token under `policy`, or undefined when it may. */
export function tokenRefusal(endpoint: string, policy: TokenPolicy): string | undefined {
  const origin = originOf(endpoint);
  if (!origin) return "is not a URL";
  if (!policy.tokenOrigins.includes(origin))
    return `may not receive a token: the operator sends tokens only to ${policy.tokenOrigins.join(", ") || "no endpoint"} (the chart's weights.tokenEndpoints)`;
  if (origin.startsWith("http:") && !policy.plainHttpOrigins.includes(origin))
    return "must use https to receive a token (plain http only for endpoints in the chart's weights.plainHttpEndpoints)";
  return undefined;
}

/** The spec's token destination, checked: a message naming the field, or undefined when allowed. */
export function tokenPolicyError(spec: DeepSeekDeploymentSpec, policy: TokenPolicy): string | undefined {
  const { huggingFace, url } = spec.model.source;
  if (huggingFace?.tokenSecretRef) {
    const why = tokenRefusal(huggingFace.endpoint, policy);
    if (why) return `spec.model.source.huggingFace.endpoint ${why}`;
  }
  if (url?.tokenSecretRef) {
    const why = tokenRefusal(url.baseURL, policy);
    if (why) return `spec.model.source.url.baseURL ${why}`;
  }
  return undefined;
}

/**
 * The engine image, checked against the administrator's allowed prefixes (the chart's
 * engine.allowedImagePrefixes; any image when empty). The tenant chooses the image and the engine
 * container gets the Secret named in spec.service.apiKeySecretRef: a prefix list keeps it to images the
 * platform team trusts with that Secret.
 */
export function imagePolicyError(spec: DeepSeekDeploymentSpec, allowedPrefixes: readonly string[]): string | undefined {
  const image = spec.engine.image;
  if (image === undefined || allowedPrefixes.length === 0) return undefined;
  if (allowedPrefixes.some((p) => image.startsWith(p))) return undefined;
  return `spec.engine.image must start with one of ${allowedPrefixes.join(", ")} (the chart's engine.allowedImagePrefixes)`;
}
