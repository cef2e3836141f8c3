// One plot per trace and cold start: load, queue and replicas per policy over time.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceRun } from "./run.ts";

export async function writePlot(dir: string, run: TraceRun): Promise<string> {
  const file = join(dir, `${run.trace}-load${run.loadMinutes}m.json`);
  writeFileSync(file, JSON.stringify(run));
  return file;
}
