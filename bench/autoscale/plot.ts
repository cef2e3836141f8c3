// One plot per trace and cold start: load, queue and replicas per policy over time, as SVG rendered
// headless by Vega (vega + vega-lite, pure JavaScript). Without them installed the Vega-Lite spec is
// written instead, so the figures can be rendered elsewhere.
import { writeFileSync } from "node:fs";
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

interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: "none" }) => { toSVG(): Promise<string>; finalize(): void };
}

interface VegaLiteModule {
  compile(spec: unknown): { spec: unknown };
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

let renderer: { vega: VegaModule; vl: VegaLiteModule } | null | undefined;

async function loadRenderer(): Promise<{ vega: VegaModule; vl: VegaLiteModule } | null> {
  if (renderer !== undefined) return renderer;
  const names = ["vega", "vega-lite"];
  try {
    const [vega, vl] = (await Promise.all(names.map((n) => import(n)))) as [VegaModule, VegaLiteModule];
    renderer = { vega, vl };
  } catch {
    renderer = null;
  }
  return renderer;
}

/** Writes the plot and returns its path (.svg, or .vl.json when Vega is not installed). */
export async function writePlot(dir: string, run: TraceRun): Promise<string> {
  const spec = plotSpec(run);
  const base = join(dir, `${run.trace}-load${run.loadMinutes}m`);
  const r = await loadRenderer();
  if (r === null) {
    writeFileSync(`${base}.vl.json`, JSON.stringify(spec));
    return `${base}.vl.json (install vega and vega-lite to render SVG)`;
  }
  const view = new r.vega.View(r.vega.parse(r.vl.compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(`${base}.svg`, svg);
  return `${base}.svg`;
}
