// Types of the parse-prometheus-text-format package (it ships none): prom2json's shape.
declare module "parse-prometheus-text-format" {
  interface Sample {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  interface Family {
    name: string;
    help: string;
    type: "GAUGE" | "COUNTER" | "UNTYPED" | "HISTOGRAM" | "SUMMARY";
    metrics: Sample[];
  }
  export default function parsePrometheusTextFormat(text: string): Family[];
}
