// Where the e2e harness finds the cluster and its tools. Defaults match test/cluster/env.sh;
// the same environment variables override both.
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const K8S_VERSION = process.env.K8S_VERSION ?? "v1.36.3";
const cache = process.env.DSO_CACHE ?? join(homedir(), ".cache", "deepseek-operator");
export const BIN_DIR = join(cache, "k8s", K8S_VERSION);
export const KUBECTL = join(BIN_DIR, "kubectl");
export const HELM = join(cache, "tools", "helm");
/** The admin kubeconfig written by test/cluster/up.sh (DSO_KUBECONFIG once global-setup ran). */
export function adminKubeconfigPath(): string {
  return process.env.DSO_KUBECONFIG ?? join(process.env.DSO_CLUSTER_DIR ?? join(REPO_ROOT, ".cluster"), "kubeconfig");
}
