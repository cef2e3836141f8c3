// One plot per trace and cold start: load, queue and replicas per policy over time, as SVG rendered
// headless by Vega (vega + vega-lite: pure JavaScript, no canvas or browser needed for SVG).
import { writeFileSync } from "node:fs";
import * as vega from "vega";
import { compile } from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import { join } from "node:path";
import { SERIES_STEP } from "./replay.ts";
import type { TraceRun } from "./run.ts";

/** At most this many points per series: enough for a 48 h trace at 4-minute resolution. */
const MAX_POINTS = 720;

interface Point {
  hours: number;
  series: string;
  value: number;
}

export function plotSpec(run: TraceRun): object {
  const every = Math.max(1, Math.ceil(run.load.length / MAX_POINTS));
  const hours = (i: number) => (i * SERIES_STEP) / 3600;
  const load: Point[] = [];
  const queue: Point[] = [];
  const replicas: Point[] = [];
  for (let i = 0; i < run.load.length; i += every)
    load.push({ hours: hours(i), series: "arrivals", value: run.load[i]! });
  for (const r of run.results) {
    for (let i = 0; i < r.replicas.length; i += every) {
      // Peak of the queue inside the step, so a short spike is not sampled away.
      const q = Math.max(...r.queue.slice(i, i + every));
      queue.push({ hours: hours(i), series: r.policy, value: q });
      replicas.push({ hours: hours(i), series: r.policy, value: r.replicas[i]! });
    }
  }
  const x = { field: "hours", type: "quantitative", title: "hours" };
  const color = { field: "series", type: "nominal", title: "policy" };
  const panel = (title: string, values: Point[], y: object, extra: object = {}) => ({
    title,
    width: 900,
    height: 160,
    data: { values },
    mark: { type: "line", strokeWidth: 1.2, ...extra },
    encoding: { x, y, color },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `${run.trace}, cold start ${run.loadMinutes} min`,
    vconcat: [
      panel("load (requests/s)", load, { field: "value", type: "quantitative", title: "req/s" }),
      panel("waiting requests (peak per step)", queue, {
        field: "value",
        type: "quantitative",
        title: "waiting",
        scale: { type: "symlog" },
      }),
      panel(
        "replicas (spec)",
        replicas,
        { field: "value", type: "quantitative", title: "replicas" },
        {
          interpolate: "step-after",
        },
      ),
    ],
    resolve: { scale: { color: "shared" } },
  };
}

/** Writes the plot as SVG and returns its path. */
export async function writePlot(dir: string, run: TraceRun): Promise<string> {
  const path = join(dir, `${run.trace}-load${run.loadMinutes}m.svg`);
  const view = new vega.View(vega.parse(compile(plotSpec(run) as TopLevelSpec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(path, svg);
  return path;
}
