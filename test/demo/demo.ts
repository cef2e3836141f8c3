// The demo, step by step, with what a platform team would type and see. Everything listens on
// 127.0.0.0/8: the Hub simulator, the engine simulators (on the pods' loopback IPs), the operator.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parse, stringify } from "yaml";
import { startHubServer } from "../../operator/src/sim/hub/server.ts";
import { v4FlashShapedRepo, V4_FLASH_REVISION } from "../../operator/src/sim/hub/repo.ts";
import { LocalPodRunner, SHIPPED_ENTRYPOINT } from "../harness/local-runner.ts";
import { waitUntilCreatable } from "../harness/operator.ts";
import { CHART, installArgs, installRelease, operatorPods, uninstallRelease } from "../harness/release.ts";
import { helm, kubectl, kubectlJson, kubectlOk } from "../e2e/lib/exec.ts";
import { loadKubeConfig } from "../e2e/lib/kube.ts";
import { REPO_ROOT } from "../e2e/lib/paths.ts";
import { writeTimeline } from "./plot.ts";
import { SpikeScene } from "./spike.ts";

const NS = "demo";
const SYSTEM = "deepseek-system";
const WORK = join(REPO_ROOT, ".cluster", "demo");
const TOKEN = "hf_demo_token";
/** The autoscaling scene: request rates, answer length, and the down window shortened for the demo. */
const QUIET_RATE = 1;
const SPIKE_RATE = 7;
const MAX_TOKENS = 40;
const DOWN_WINDOW_S = 30;
const PLOT = join(REPO_ROOT, ".bench", "demo", "autoscale.svg");
const say = (s: string) => process.stdout.write(`\n\x1b[1m== ${s}\x1b[0m\n`);
const show = async (args: string[]) => {
  process.stdout.write(`$ kubectl ${args.join(" ")}\n`);
  const r = await kubectl(args);
  process.stdout.write(r.stdout || r.stderr);
};

process.env.DSO_KUBECONFIG ??= join(process.env.DSO_CLUSTER_DIR ?? join(REPO_ROOT, ".cluster"), "kubeconfig");
/** With CI=true the demo is a check: it exits non-zero unless it served, scaled up under the spike and down after it. */
const CI = process.env.CI === "true";
let serving = false;
let scaledUp: boolean | undefined;
let scaledDown: boolean | undefined;
mkdirSync(WORK, { recursive: true });
const kc = loadKubeConfig();

say("Start a Hugging Face Hub simulator (gated: needs a token)");
// 46 shards like the real checkpoint, scaled down to 4 MiB each and rate-limited so the download is watchable.
const hub = await startHubServer({
  repos: [v4FlashShapedRepo({ shardSize: 4 * 2 ** 20 })],
  host: "127.0.0.1",
  port: 0,
  token: TOKEN,
});
hub.setFault({ kind: "rate", bytesPerSecond: 512 * 1024 });

say("helm install the operator (the chart, as on a real cluster; the local runner plays the kubelet)");
// Pods labelled for the local runner run as local processes from their own container spec (the operator's,
// from the chart's Deployment, and the weights Jobs'); KWOK runs the engine pods, and the runner puts an
// engine simulator at each one's address.
const runner = new LocalPodRunner({
  admin: kc,
  workDir: join(WORK, "pods"),
  // Slow engines (8 requests at a time at 10 tokens/s) so a few requests per second make a queue; the runner
  // holds each pod un-Ready until its simulator answers /health, as the kubelet's probe would.
  engines: {
    loadSeconds: 5,
    readyWhenUp: true,
    simArgs: ["--max-num-seqs", "2", "--tokens-per-second-per-seq", "10"],
  },
  entrypoint: SHIPPED_ENTRYPOINT,
  log: (m) => process.stdout.write(`   ${m}\n`),
});
runner.start();
const release = { name: "deepseek-operator", namespace: SYSTEM };
const local = (args: string[]) => args.join(" ").replaceAll(REPO_ROOT, "");
// An earlier run's release has pods nobody runs any more: reinstall it.
await uninstallRelease(release);
// Helm creates the CRD on a first install and never upgrades it: on a cluster that has it, upgrade it first.
if ((await kubectl(["get", "crd", "deepseekdeployments.serving.deepseek-operator.io"])).code === 0) {
  process.stdout.write(`$ helm show crds ${local([CHART])} | kubectl apply --server-side --force-conflicts -f -\n`);
  const crds = await helm(["show", "crds", CHART]);
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: crds.stdout });
}
// The chart binds the operator's Roles in the namespaces it watches: the namespace comes first.
if ((await kubectl(["get", "namespace", NS])).code !== 0) {
  process.stdout.write(`$ kubectl create namespace ${NS}\n`);
  await kubectlOk(["create", "namespace", NS]);
}
// The operator sends the download token only to the origins the chart names: here the local Hub, over plain http.
const hubValues = [
  "--set-json",
  `weights.tokenEndpoints=${JSON.stringify([hub.url])}`,
  "--set-json",
  `weights.plainHttpEndpoints=${JSON.stringify([hub.url])}`,
];
process.stdout.write(`$ helm ${local(installArgs(release, [NS], hubValues))}\n`);
await installRelease(release, [NS], hubValues);
await show(["-n", SYSTEM, "get", "deploy,pods", "-o", "wide"]);
await show(["get", "nodes", "-L", "nvidia.com/gpu.product", "-L", "nvidia.com/gpu.count"]);

const pods = await operatorPods(release);
process.stdout.write(
  `   hub ${hub.url}; operator metrics ${pods.map((p) => `http://${p.ip}:${p.ports.metrics}/metrics`).join(", ")}; ` +
    `logs in ${join(WORK, "pods")}\n`,
);
await waitUntilCreatable(NS);

// The release stays installed (the next run reinstalls it); its pods stop with the runner.
const stop = async () => {
  await runner.stop();
  await hub.close();
};
process.once("SIGINT", () => void stop().then(() => process.exit(130)));

// Whatever happens below, the operator, the runner and the Hub stop with the demo.
try {
  say("Plan before applying: what does 1M context need on H200?");
  process.stdout.write(
    (await import("node:child_process")).execFileSync(
      join(REPO_ROOT, "bin", "deepseek-operator"),
      ["plan", "--gpu", "H200", "--max-model-len", "1048576", "--concurrency", "8"],
      { encoding: "utf8" },
    ),
  );

  say("kubectl apply the sample DeepSeekDeployment (crds/examples/h200-1m-autoscaling.yaml, pointed at the local Hub)");
  await kubectlOk(["-n", NS, "create", "secret", "generic", "hf-token", `--from-literal=token=${TOKEN}`]).catch(
    () => undefined,
  );
  const sample = parse(readFileSync(join(REPO_ROOT, "crds/examples/h200-1m-autoscaling.yaml"), "utf8"));
  sample.metadata.namespace = NS;
  sample.spec.model.source.huggingFace.endpoint = hub.url;
  sample.spec.model.revision = V4_FLASH_REVISION;
  sample.spec.autoscaling = {
    ...sample.spec.autoscaling,
    scaleUpStabilizationSeconds: 0,
    scaleDownStabilizationSeconds: DOWN_WINDOW_S,
    maxScaleDownStep: 1,
    metrics: { scrapeIntervalSeconds: 2, staleAfterSeconds: 6 },
  };
  const manifest = join(WORK, "flash-h200.yaml");
  writeFileSync(manifest, stringify(sample));
  await show(["apply", "-f", manifest]);

  say("Watch it download, load and serve (kubectl get dsd every 5 s)");
  for (let i = 0; i < 120; i++) {
    const r = await kubectl(["-n", NS, "get", "dsd", "-o", "wide"]);
    process.stdout.write(i === 0 ? r.stdout : `${r.stdout.split("\n")[1]}\n`);
    const d = await kubectlJson<{ status?: { phase?: string; readyReplicas?: number } }>([
      "-n",
      NS,
      "get",
      "dsd",
      sample.metadata.name,
    ]);
    if (d.status?.phase === "Serving") {
      serving = true;
      break;
    }
    await sleep(5000);
  }
  await show(["-n", NS, "describe", "dsd", sample.metadata.name]);
  await show(["-n", NS, "get", "deploy,svc,pdb,pvc,jobs,pods", "-o", "wide"]);

  say("Autoscaling: a spike in the load scales it up, and back down after the window");
  process.stdout.write(
    `   spec.autoscaling: ${JSON.stringify(sample.spec.autoscaling)}\n` +
      `   (windows shortened for the demo: scale up at once, down after ${DOWN_WINDOW_S} s without load, metrics read every 2 s;\n` +
      `    the defaults are 60 s up and 30 min down, and never less than 3 × the measured load time)\n` +
      `   Each engine simulator runs 8 requests at a time at 10 tokens/s: one replica finishes ~2 requests/s of ${MAX_TOKENS} tokens.\n` +
      `   Load: the openai client, open loop, spread over the Ready engine pods: ${QUIET_RATE} req/s, then a spike of ${SPIKE_RATE} req/s, then none.\n`,
  );
  const scene = new SpikeScene(kc, NS, sample.metadata.name, sample.spec.model.name, MAX_TOKENS);
  let lastRow = "";
  const row = async (note: string) => {
    const r = await kubectl(["-n", NS, "get", "dsd", sample.metadata.name, "--no-headers"]);
    const cols = r.stdout.trim().split(/\s+/);
    // The row without AGE (the last column): printed when anything a reader watches changed.
    const key = cols.slice(0, -1).join(" ");
    if (key === lastRow || !r.stdout.trim()) return;
    lastRow = key;
    process.stdout.write(`t=${scene.elapsed().toFixed(0).padStart(3)}s  ${r.stdout.trimEnd()}   ${note}\n`);
  };
  const header = (await kubectl(["-n", NS, "get", "dsd"])).stdout.split("\n")[0];
  process.stdout.write(`$ kubectl -n ${NS} get dsd -w\n        ${header}\n`);
  const watch = async (seconds: number, note: () => string, until?: () => boolean) => {
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end && !until?.()) {
      await row(note());
      await sleep(2000);
    }
  };
  // "serving" counts Ready pods whose engine answers: KWOK marks a new pod Ready for a moment before its engine is up.
  const note = () => {
    const s = scene.last();
    return s ? `load ${scene.rate} req/s, waiting ${s.queue}, serving ${s.serving}/${s.desired}` : "";
  };
  scene.start();
  let peakDesired = 1;
  let peakReady = 1;
  const track = () => {
    const s = scene.last();
    if (s) {
      peakDesired = Math.max(peakDesired, s.desired);
      peakReady = Math.max(peakReady, s.serving);
    }
  };
  try {
    scene.rate = QUIET_RATE;
    await watch(15, note);
    scene.rate = SPIKE_RATE;
    process.stdout.write(`t=${scene.elapsed().toFixed(0).padStart(3)}s  -- spike: ${SPIKE_RATE} req/s --\n`);
    // The spike lasts until the new replicas serve (and a while longer, to see the queue drain), at most 2 min.
    let readyAt: number | undefined;
    await watch(
      120,
      () => {
        track();
        return note();
      },
      () => {
        track();
        if (readyAt === undefined && peakReady >= 3) readyAt = Date.now();
        return readyAt !== undefined && Date.now() - readyAt > 20_000;
      },
    );
    scene.rate = 0;
    process.stdout.write(`t=${scene.elapsed().toFixed(0).padStart(3)}s  -- load stops --\n`);
    await watch(
      180,
      () => {
        track();
        return note();
      },
      () => {
        const s = scene.last();
        return s !== undefined && s.desired === 1 && s.ready === 1 && scene.elapsed() > 0;
      },
    );
    await row(note());
  } finally {
    await scene.stop();
  }
  const final = scene.last();
  scaledUp = peakDesired > 1 && peakReady > 1;
  scaledDown = scaledUp && final?.desired === 1 && final.ready === 1;
  process.stdout.write(
    `requests: ${scene.stats.sent} sent, ${scene.stats.ok} completed, ${scene.stats.failed} failed` +
      `${scene.stats.errors.length ? ` (${scene.stats.errors.join("; ")})` : ""}\n` +
      `replicas: 1 → ${peakDesired} desired (${peakReady} ready) under the spike → ${final?.desired ?? "?"} after it\n`,
  );
  await writeTimeline(PLOT, scene.samples, `make demo: ${NS}/${sample.metadata.name}, Builtin autoscaling`);
  process.stdout.write(`plot (load, waiting requests, replicas over time): ${PLOT}\n`);
  await show(["-n", NS, "get", "dsd"]);
  await show([
    "-n",
    NS,
    "get",
    "events.events.k8s.io",
    "--sort-by=.metadata.creationTimestamp",
    "-o",
    "custom-columns=TYPE:.type,REASON:.reason,NOTE:.note",
  ]);
} finally {
  await stop();
}

if (CI) {
  const failed = [
    serving ? "" : "it never reached Serving",
    scaledUp ? "" : "it did not scale up under the spike",
    scaledDown ? "" : "it did not scale back down to 1 after the spike",
  ].filter(Boolean);
  if (failed.length) {
    process.stderr.write(`demo check failed: ${failed.join("; ")}\n`);
    process.exitCode = 1;
  } else process.stdout.write("demo check passed: Serving, scaled up under the spike and down after it\n");
}
say("Done. The cluster stays up (make cluster-down stops it); the operator and simulators have stopped.");
