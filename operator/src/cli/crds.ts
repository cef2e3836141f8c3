// `deepseek-operator crds`: prints the CRD, so a cluster admin can install it without the chart.
import { crdYaml } from "./generate.ts";

export function main(): Promise<number> {
  process.stdout.write(crdYaml());
  return Promise.resolve(0);
}
