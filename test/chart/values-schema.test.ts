// values.schema.json comes from the zod schema in operator/src/chart/values.ts (`make crds` writes it;
// operator/src/cli/generate.test.ts checks it is current), and helm enforces it: a bad value is refused by
// `helm template` (and so by install and upgrade) with the value's path in the message.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ChartValues } from "../../operator/src/chart/values.ts";
import { CHART, helm } from "./helm.ts";

const defaults = parse(readFileSync(path.join(CHART, "values.yaml"), "utf8")) as unknown;

describe("values.schema.json", () => {
  it("accepts the chart's own values.yaml", () => {
    const r = ChartValues.safeParse(defaults);
    expect(r.success ? [] : r.error.issues).toEqual([]);
  });

  it("refuses a values.yaml default that the schema does not know", () => {
    const r = ChartValues.safeParse({ ...(defaults as object), replica: 2 });
    expect(r.success).toBe(false);
  });
});

// Each bad value, and what helm must say about it: the path of the value, in helm's words.
const BAD: [string, string[], RegExp][] = [
  ["zero replicas", ["--set", "replicas=0"], /at '\/replicas': minimum: got 0, want 1/],
  ["a misspelt top-level key", ["--set", "replica=2"], /additional properties 'replica' not allowed/],
  ["a misspelt nested key", ["--set", "image.repo=x"], /at '\/image': additional properties 'repo' not allowed/],
  ["a digest that is not sha256", ["--set", "image.digest=latest"], /at '\/image\/digest': 'latest' does not match/],
  ["an unknown pull policy", ["--set", "image.pullPolicy=Sometimes"], /at '\/image\/pullPolicy': value must be one of/],
  ["an unknown log level", ["--set", "logLevel=verbose"], /at '\/logLevel': value must be one of/],
  ["a port out of range", ["--set", "metrics.port=70000"], /at '\/metrics\/port': maximum: got 70,000, want 65,535/],
  ["a CPU request that is not a quantity", ["--set", "resources.requests.cpu=lots"], /at '\/resources\/requests\/cpu'/],
  [
    "leader election as a string",
    ["--set-string", "leaderElection.enabled=yes"],
    /at '\/leaderElection\/enabled': got string, want boolean/,
  ],
  [
    "a watched namespace that is no DNS label",
    ["--set-json", 'watchNamespaces=["Team_A"]'],
    /at '\/watchNamespaces\/0'/,
  ],
  [
    "a pull secret without a name",
    ["--set-json", 'imagePullSecrets=[{"nam":"x"}]'],
    /at '\/imagePullSecrets\/0': missing property 'name'/,
  ],
  [
    "a bad scrape interval",
    ["--set", "metrics.serviceMonitor.interval=often"],
    /at '\/metrics\/serviceMonitor\/interval'/,
  ],
  [
    "a PDB maxUnavailable that is neither count nor percent",
    ["--set", "podDisruptionBudget.maxUnavailable=half"],
    /at '\/podDisruptionBudget\/maxUnavailable'/,
  ],
  [
    "a proxy with a path",
    ["--set", "weights.proxy.httpsProxy=http://proxy.example.com:3128/x"],
    /at '\/weights\/proxy\/httpsProxy'/,
  ],
  [
    "a proxy that is no http(s) URL",
    ["--set", "weights.proxy.httpProxy=socks5://p:1080"],
    /at '\/weights\/proxy\/httpProxy'/,
  ],
  [
    "a NO_PROXY entry with shell syntax",
    ["--set-json", 'weights.proxy.noProxy=["$(id)"]'],
    /at '\/weights\/proxy\/noProxy\/0'/,
  ],
  [
    "a CA ConfigMap name that is no DNS name",
    ["--set", "weights.caBundle.configMap=Corp_CA"],
    /at '\/weights\/caBundle\/configMap'/,
  ],
  [
    "a CA key that climbs out of the volume",
    ["--set", "weights.caBundle.key=../ca.crt"],
    /at '\/weights\/caBundle\/key'/,
  ],
];

describe("bad values", () => {
  it.each(BAD)("refuses %s, naming the value", (_what, args, message) => {
    const r = helm(["template", "dso", CHART, ...args]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(message);
  });

  it("refuses a ServiceMonitor where the cluster serves no ServiceMonitor API, naming the value", () => {
    const r = helm(["template", "dso", CHART, "--set", "metrics.serviceMonitor.enabled=true"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /metrics\.serviceMonitor\.enabled: the cluster does not serve monitoring\.coreos\.com\/v1/,
    );
  });

  it("accepts the default values and a digest-pinned image", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    expect(helm(["template", "dso", CHART]).status).toBe(0);
    expect(helm(["template", "dso", CHART, "--set", `image.digest=${digest}`]).status).toBe(0);
  });
});
