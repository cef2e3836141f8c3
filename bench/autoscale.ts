// make bench-autoscale: replays load traces through the operator's autoscaling policy and through
// KEDA, an HPA and KubeAI as they are configured by default, on one engine capacity model, with a
// cold start of 10 and of 30 minutes. Prints per trace and policy the requests that waited longer than
// the target, the seconds above it, GPU-hours and scale reversals; the last line compares the builtin
// policy with the best baseline. Plots go to .bench/autoscale/. See docs/autoscaling.md.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writePlot } from "./autoscale/plot.ts";
import { runTrace, summarize, type TraceRun } from "./autoscale/run.ts";
import { readTrace, scaleToPeak, syntheticTraces, type Trace } from "./autoscale/traces.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sharedTraces = resolve(repoRoot, "../shared/traces");

const { values } = parseArgs({
  options: {
    trace: { type: "string", multiple: true },
    "load-minutes": { type: "string", default: "10,30" },
    "wait-target": { type: "string", default: "5" },
    "peak-replicas": { type: "string", default: "10" },
    "servegen-hours": { type: "string", default: "48" },
    out: { type: "string", default: resolve(repoRoot, ".bench/autoscale") },
    "no-plot": { type: "boolean", default: false },
  },
});

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

const loadMinutes = values["load-minutes"].split(",").map((v) => positive("load-minutes", v));
const waitTarget = positive("wait-target", values["wait-target"]);
const peak = positive("peak-replicas", values["peak-replicas"]);
const servegenHours = positive("servegen-hours", values["servegen-hours"]);

function traces(): Trace[] {
  if (values.trace?.length)
    return values.trace.map((f) => scaleToPeak(readTrace(resolve(f), { maxHours: servegenHours }), peak));
  return [
    ...syntheticTraces(),
    ...[
      "AzureLLMInferenceTrace_conv.csv",
      "AzureLLMInferenceTrace_code.csv",
      "servegen_m-large_aggregate_rate_600s.csv",
    ].map((f) => scaleToPeak(readTrace(resolve(sharedTraces, f), { maxHours: servegenHours }), peak)),
  ];
}

const started = performance.now();
const runs: TraceRun[] = [];
mkdirSync(values.out, { recursive: true });
const pad = (s: string | number, n: number) => String(s).padStart(n);
const WIDTHS = [40, 5, 8, 10, 12, 8, 4, 6];
const row = (cells: Array<string | number>) =>
  cells.map((c, i) => (i === 0 || i === 2 ? String(c).padEnd(WIDTHS[i]!) : pad(c, WIDTHS[i]!))).join(" ");
console.log(
  `wait target ${waitTarget}s; GPU-hours at 4 GPUs per replica; reversal = opposite scale within one load time`,
);
console.log(row(["trace", "load", "policy", "late req", "late s", "GPU-h", "rev", "scales"]));
for (const trace of traces()) {
  for (const minutes of loadMinutes) {
    const run = runTrace(trace, minutes, waitTarget);
    runs.push(run);
    for (const r of run.results) {
      const late = [Math.round(r.violations), Math.round(r.excessSeconds)];
      console.log(
        row([trace.name, `${minutes}m`, r.policy, ...late, r.gpuHours.toFixed(1), r.reversals, r.scaleEvents]),
      );
    }
    if (!values["no-plot"]) {
      const file = await writePlot(values.out, run);
      console.log(`plot: ${file}`);
    }
  }
}
const summary = summarize(runs);
console.log("totals over all traces and cold starts (late s = seconds of queue wait above the target, summed):");
for (const [name, t] of summary.totals) {
  const late = [Math.round(t.violations), Math.round(t.excessSeconds)];
  console.log(row(["total", "all", name, ...late, t.gpuHours.toFixed(1), t.reversals, ""]));
}
console.log(
  `best baseline by late seconds: ${summary.best}; wall time ${((performance.now() - started) / 1000).toFixed(1)}s`,
);
console.log(summary.line);
