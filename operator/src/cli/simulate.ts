// `deepseek-operator simulate <engine|hub>`: stand-ins for the GPU engine and the Hugging Face Hub,
// so tests and the demo run the operator's real clients against something that speaks the same HTTP.
import { CliError } from "./errors.ts";

const sims: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  engine: () => import("../sim/engine/cli.ts"),
  hub: () => import("../sim/hub/cli.ts"),
};

export async function main(argv: string[]): Promise<number> {
  const [which, ...rest] = argv;
  const load = which ? sims[which] : undefined;
  if (!load) throw new CliError(`usage: deepseek-operator simulate <${Object.keys(sims).join("|")}> [flags]`);
  return (await load()).main(rest);
}
