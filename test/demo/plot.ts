// The autoscaling scene's timeline as SVG: load, waiting requests and replicas over time, rendered
// headless by Vega as bench/autoscale/plot.ts renders the bench's (no canvas or browser for SVG).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { Sample } from "./spike.ts";

export function timelineSpec(samples: Sample[], title: string): object {
  const x = { field: "t", type: "quantitative", title: "seconds" };
  const panel = (panelTitle: string, values: object[], yTitle: string, extra: object = {}) => ({
    title: panelTitle,
    width: 800,
    height: 140,
    data: { values },
    mark: { type: "line", strokeWidth: 1.5, ...extra },
    encoding: {
      x,
      y: { field: "value", type: "quantitative", title: yTitle },
      color: { field: "series", type: "nominal", title: "", legend: { labelLimit: 300 } },
    },
  });
  const series = (name: string, f: (s: Sample) => number) =>
    samples.map((s) => ({ t: s.t, series: name, value: f(s) }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    vconcat: [
      panel(
        "load (requests sent/s)",
        series("sent", (s) => s.load),
        "req/s",
      ),
      panel(
        "waiting requests (summed over ready engines)",
        series("waiting", (s) => s.queue),
        "waiting",
      ),
      panel(
        "replicas",
        [
          ...series("desired (spec.replicas)", (s) => s.desired),
          ...series("serving (Ready, engine up)", (s) => s.serving),
        ],
        "replicas",
        { interpolate: "step-after" },
      ),
    ],
    resolve: { scale: { color: "independent" } },
  };
}

/** Writes the timeline as SVG at `path`. */
export async function writeTimeline(path: string, samples: Sample[], title: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(timelineSpec(samples, title) as TopLevelSpec).spec), {
    renderer: "none",
  });
  const svg = await view.toSVG();
  view.finalize();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, svg);
}
