// The real helm binary (fetched by `make helm` into ~/.cache/deepseek-operator/tools) run on the repo's chart,
// and its output as Kubernetes objects.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";

export const CHART = path.resolve(import.meta.dirname, "../../charts/deepseek-operator");
const HELM =
  process.env.HELM ??
  path.join(process.env.DSO_CACHE ?? path.join(homedir(), ".cache/deepseek-operator"), "tools/helm");

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: any };
  [k: string]: any;
};

function helmPath(): string {
  if (!existsSync(HELM)) throw new Error(`helm not found at ${HELM}: run \`make helm\``);
  return HELM;
}

/** helm with these arguments; stdout, stderr and exit status, never throwing on a non-zero exit. */
export function helm(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(helmPath(), args, { encoding: "utf8" });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` of the chart as release "dso" in namespace "ops"; extra args such as --set-json. */
export function render(...extra: string[]): KubeObject[] {
  const out = execFileSync(helmPath(), ["template", "dso", CHART, "--namespace", "ops", ...extra], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return parseAllDocuments(out)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

export function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o)
    throw new Error(
      `no ${kind}${name ? ` ${name}` : ""} in: ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`,
    );
  return o;
}

export const has = (objects: KubeObject[], kind: string) => objects.some((o) => o.kind === kind);
