// `deepseek-operator crds`: prints the CRD, so a cluster admin can install it without the chart.
import { crdYaml } from "./generate.ts";

export async function main(): Promise<number> {
  process.stdout.write(crdYaml());
  return 0;
}
