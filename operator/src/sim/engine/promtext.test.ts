import { describe, expect, it } from "@jest/globals";
import { Counter, Histogram, Registry } from "prom-client";
import { PromParseError, parsePrometheusText, samples, sum, value } from "./promtext.ts";

describe("parsePrometheusText", () => {
  it("parses families, label escapes, special values and timestamps", () => {
    const text = [
      "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
      "# TYPE vllm:num_requests_waiting gauge",
      'vllm:num_requests_waiting{model_name="a\\"b\\\\c\\nd",engine="0"} 3',
      'vllm:num_requests_waiting{engine="1", model_name="x",} 4.5e0 1700000000000',
      "# a plain comment",
      "up NaN",
      "down -Inf",
      "",
    ].join("\n");
    const f = parsePrometheusText(text);
    const g = f.get("vllm:num_requests_waiting")!;
    expect(g.type).toBe("gauge");
    expect(g.help).toBe("Number of requests waiting to be processed.");
    expect(g.samples[0]!.labels).toEqual({ model_name: 'a"b\\c\nd', engine: "0" });
    expect(g.samples[1]).toEqual({
      name: "vllm:num_requests_waiting",
      labels: { engine: "1", model_name: "x" },
      value: 4.5,
      timestamp: 1700000000000,
    });
    expect(Number.isNaN(value(f, "up"))).toBe(true);
    expect(value(f, "down")).toBe(-Infinity);
    expect(f.get("up")!.type).toBe("untyped");
    expect(sum(f, "vllm:num_requests_waiting")).toBe(7.5);
  });

  it("reads prom-client's own output, histograms grouped under their family", async () => {
    const r = new Registry();
    const h = new Histogram({
      name: "t:seconds",
      help: "h",
      labelNames: ["engine"],
      buckets: [0.1, 1],
      registers: [r],
    });
    const c = new Counter({ name: "t:tokens_total", help: "c", labelNames: ["engine"], registers: [r] });
    h.observe({ engine: "0" }, 0.5);
    h.observe({ engine: "0" }, 5);
    c.inc({ engine: "1" }, 7);
    const f = parsePrometheusText(await r.metrics());
    expect(f.get("t:seconds")!.type).toBe("histogram");
    expect(value(f, "t:seconds_bucket", { le: "0.1" })).toBe(0);
    expect(value(f, "t:seconds_bucket", { le: "1" })).toBe(1);
    expect(value(f, "t:seconds_bucket", { le: "+Inf" })).toBe(2);
    expect(value(f, "t:seconds_count")).toBe(2);
    expect(value(f, "t:seconds_sum")).toBe(5.5);
    expect(value(f, "t:tokens_total", { engine: "1" })).toBe(7);
    expect(samples(f, "t:tokens_total", { engine: "0" })).toEqual([]);
  });

  it("rejects malformed input with the line number", () => {
    expect(() => parsePrometheusText('a{b="x} 1')).toThrow(PromParseError);
    expect(() => parsePrometheusText("ok 1\nbad{=1} 2")).toThrow(/line 2/);
    expect(() => parsePrometheusText("a one")).toThrow(/bad value/);
    expect(() => parsePrometheusText("# TYPE a sometype")).toThrow(/unknown type/);
    expect(() => parsePrometheusText('a{x="1",x="2"} 1')).toThrow(/duplicate/);
  });

  it("value() insists on exactly one sample", () => {
    const f = parsePrometheusText('m{r="0"} 1\nm{r="1"} 2');
    expect(() => value(f, "m")).toThrow(/found 2/);
    expect(() => value(f, "nope")).toThrow(/found 0/);
  });
});
