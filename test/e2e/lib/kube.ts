// Typed API access for e2e tests, as the cluster admin (the harness, never the operator under test).
import { ApiException, KubeConfig } from "@kubernetes/client-node";
import { adminKubeconfigPath } from "./paths.ts";

export function loadKubeConfig(path: string = adminKubeconfigPath()): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** HTTP status of a failed API call, or undefined when the error is not an API response. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** Runs an API call and maps 404 to undefined, so "gone" can be polled for. */
export async function orNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (apiStatus(err) === 404) return undefined;
    throw err;
  }
}
