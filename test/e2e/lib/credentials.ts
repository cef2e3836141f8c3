// A kubeconfig for a ServiceAccount, minted through the TokenRequest API, so a process under test
// (the operator) runs with exactly the RBAC granted to that account and not as the admin.
import { writeFile } from "node:fs/promises";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { apiStatus, loadKubeConfig } from "./kube.ts";

export interface ServiceAccountCredentials {
  token: string;
  /** The identity as RBAC sees it: system:serviceaccount:<namespace>:<name>. */
  username: string;
  kubeConfig: KubeConfig;
  /** The kubeconfig as a file body (for kubectl --kubeconfig or the operator's --kubeconfig). */
  kubeconfigYaml: string;
  writeKubeconfig(path: string): Promise<void>;
}

export interface MintOptions {
  namespace: string;
  serviceAccount: string;
  /** Create the ServiceAccount when it does not exist yet (default true). */
  create?: boolean;
  /** Token lifetime; the apiserver's minimum is 600 s. */
  expirationSeconds?: number;
  admin?: KubeConfig;
}

export async function mintServiceAccountKubeconfig(opts: MintOptions): Promise<ServiceAccountCredentials> {
  const admin = opts.admin ?? loadKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const { namespace, serviceAccount: name } = opts;
  if (opts.create ?? true) {
    try {
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
    }
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for serviceaccount ${namespace}/${name} returned no token`);

  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("admin kubeconfig has no current cluster");
  const username = `system:serviceaccount:${namespace}:${name}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: cluster.name,
        server: cluster.server,
        caData: cluster.caData,
        caFile: cluster.caFile,
        skipTLSVerify: false,
      },
    ],
    users: [{ name: username, token }],
    contexts: [{ name: username, cluster: cluster.name, user: username, namespace }],
    currentContext: username,
  });
  const kubeconfigYaml = kubeconfigFile({
    server: cluster.server,
    caData: cluster.caData ?? "",
    user: username,
    token,
    namespace,
  });
  return {
    token,
    username,
    kubeConfig,
    kubeconfigYaml,
    async writeKubeconfig(path: string) {
      await writeFile(path, kubeconfigYaml, { mode: 0o600 });
    },
  };
}

function kubeconfigFile(c: { server: string; caData: string; user: string; token: string; namespace: string }): string {
  // JSON is valid YAML, and every kubeconfig reader accepts it.
  return (
    JSON.stringify(
      {
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          { name: "deepseek-operator-test", cluster: { server: c.server, "certificate-authority-data": c.caData } },
        ],
        users: [{ name: c.user, user: { token: c.token } }],
        contexts: [
          { name: c.user, context: { cluster: "deepseek-operator-test", user: c.user, namespace: c.namespace } },
        ],
        "current-context": c.user,
      },
      null,
      2,
    ) + "\n"
  );
}
