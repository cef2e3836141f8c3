// Stack configuration → DeepSeekPlatform arguments. A DeepSeekDeployment in the config is checked against the
// API's own zod schema here, so `pulumi preview` refuses a bad spec naming the field, before the apiserver would.
import { z } from "zod";
import { DeepSeekDeploymentSpec } from "../operator/src/api/spec/index.ts";
import type { DeepSeekDeploymentArgs, DeepSeekPlatformArgs } from "./platform.ts";

/** What `pulumi config` holds; the readers are injected so tests need no Pulumi engine. */
export interface ConfigReader {
  get(key: string): string | undefined;
  getNumber(key: string): number | undefined;
  getBoolean(key: string): boolean | undefined;
  getObject<T>(key: string): T | undefined;
}

const Name = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: "must be a DNS-1123 label" });
const DeploymentConfig = z.strictObject({ name: Name, namespace: Name, spec: z.record(z.string(), z.unknown()) });

function deploymentsFromConfig(raw: unknown): DeepSeekDeploymentArgs[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((item, i) => {
    const at = Array.isArray(raw) ? `deployments[${i}]` : "deployments";
    const d = DeploymentConfig.safeParse(item);
    if (!d.success) throw new Error(`config ${at}: ${z.prettifyError(d.error)}`);
    const spec = DeepSeekDeploymentSpec.safeParse(d.data.spec);
    if (!spec.success) {
      const issues = spec.error.issues.map((e) => `${at}.spec.${e.path.join(".")}: ${e.message}`);
      throw new Error(
        `config ${at} (${d.data.namespace}/${d.data.name}) is not a valid DeepSeekDeployment:\n` +
          `  ${issues.join("\n  ")}`,
      );
    }
    return d.data;
  });
}

export function platformArgsFromConfig(c: ConfigReader): DeepSeekPlatformArgs {
  const on = (key: string) => ({ enabled: c.getBoolean(key) ?? false });
  return {
    namespace: c.get("namespace") ?? "deepseek-system",
    operatorReplicas: c.getNumber("operatorReplicas") ?? 2,
    image: { repository: c.get("imageRepository"), tag: c.get("imageTag"), digest: c.get("imageDigest") },
    gpuOperator: { ...on("gpuOperator"), driver: c.getBoolean("gpuDriver") ?? true },
    leaderWorkerSet: on("leaderWorkerSet"),
    keda: on("keda"),
    kubePrometheusStack: on("kubePrometheusStack"),
    deployments: deploymentsFromConfig(c.getObject<unknown>("deployments")),
  };
}
