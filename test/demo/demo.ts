// The demo, step by step, with what a platform team would type and see. Everything listens on
// 127.0.0.0/8: the Hub simulator, the engine simulators (on the pods' loopback IPs), the operator.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parse, stringify } from "yaml";
import { runLoad, formatReport } from "../../bench/load.ts";
import { startHubServer } from "../../operator/src/sim/hub/server.ts";
import { v4FlashShapedRepo, V4_FLASH_REVISION } from "../../operator/src/sim/hub/repo.ts";
import { LocalPodRunner, SHIPPED_ENTRYPOINT } from "../harness/local-runner.ts";
import { waitUntilCreatable } from "../harness/operator.ts";
import { CHART, installArgs, installRelease, operatorPods, uninstallRelease } from "../harness/release.ts";
import { helm, kubectl, kubectlJson, kubectlOk } from "../e2e/lib/exec.ts";
import { loadKubeConfig } from "../e2e/lib/kube.ts";
import { REPO_ROOT } from "../e2e/lib/paths.ts";

const NS = "demo";
const SYSTEM = "deepseek-system";
const WORK = join(REPO_ROOT, ".cluster", "demo");
const TOKEN = "hf_demo_token";
const say = (s: string) => process.stdout.write(`\n\x1b[1m== ${s}\x1b[0m\n`);
const show = async (args: string[]) => {
  process.stdout.write(`$ kubectl ${args.join(" ")}\n`);
  const r = await kubectl(args);
  process.stdout.write(r.stdout || r.stderr);
};

process.env.DSO_KUBECONFIG ??= join(REPO_ROOT, ".cluster", "kubeconfig");
mkdirSync(WORK, { recursive: true });
const kc = loadKubeConfig();

say("helm install the operator (the chart, as on a real cluster; the local runner plays the kubelet)");
// Pods labelled for the local runner run as local processes from their own container spec (the operator's,
// from the chart's Deployment, and the weights Jobs'); KWOK runs the engine pods, and the runner puts an
// engine simulator at each one's address.
const runner = new LocalPodRunner({
  admin: kc,
  workDir: join(WORK, "pods"),
  engines: { loadSeconds: 5 },
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
process.stdout.write(`$ helm ${local(installArgs(release, [NS]))}\n`);
await installRelease(release, [NS]);
await show(["-n", SYSTEM, "get", "deploy,pods", "-o", "wide"]);
await show(["get", "nodes", "-L", "nvidia.com/gpu.product", "-L", "nvidia.com/gpu.count"]);

say("Start a Hugging Face Hub simulator (gated: needs a token)");
// 46 shards like the real checkpoint, scaled down to 4 MiB each and rate-limited so the download is watchable.
const hub = await startHubServer({
  repos: [v4FlashShapedRepo({ shardSize: 4 * 2 ** 20 })],
  host: "127.0.0.1",
  port: 0,
  token: TOKEN,
});
hub.setFault({ kind: "rate", bytesPerSecond: 512 * 1024 });
const pods = await operatorPods(release);
process.stdout.write(
  `   hub ${hub.url}; operator metrics ${pods.map((p) => `http://${p.ip}:${p.ports.metrics}/metrics`).join(", ")}; ` +
    `logs in ${join(WORK, "pods")}\n`,
);
// A namespace left terminating by an earlier run goes once the operator has finalized its deployments.
for (let i = 0; i < 120; i++) {
  const phase = (await kubectl(["get", "namespace", NS, "-o", "jsonpath={.status.phase}"])).stdout;
  if (phase !== "Terminating") break;
  await sleep(1000);
}
await kubectl(["create", "namespace", NS]);
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
    if (d.status?.phase === "Serving") break;
    await sleep(5000);
  }
  await show(["-n", NS, "describe", "dsd", sample.metadata.name]);
  await show(["-n", NS, "get", "deploy,svc,pdb,pvc,jobs,pods", "-o", "wide"]);

  say("Put it under load (OpenAI chat completions, streamed, against the engine pods)");
  let ip: string | undefined;
  for (let i = 0; i < 60 && !ip; i++) {
    const pods = await kubectlJson<{ items: { status: { podIP?: string; phase?: string } }[] }>([
      "-n",
      NS,
      "get",
      "pods",
      "-l",
      `app.kubernetes.io/instance=${sample.metadata.name}`,
    ]);
    ip = pods.items.find((p) => p.status.phase === "Running")?.status.podIP;
    if (!ip) await sleep(1000);
  }
  if (!ip) throw new Error(`no running engine pod for ${NS}/${sample.metadata.name}`);
  for (let i = 0; i < 60; i++) {
    const ok = await fetch(`http://${ip}:8000/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(1000);
  }
  // Services have no endpoints on loopback pod IPs in this cluster (see docs/cluster.md), so the load goes to the pod.
  const report = await runLoad({
    url: `http://${ip}:8000`,
    concurrency: 96,
    durationSeconds: 20,
    maxTokens: 128,
    stream: true,
  });
  process.stdout.write(formatReport(report));
  const metrics = await (await fetch(`http://${ip}:8000/metrics`)).text();
  process.stdout.write(
    `engine metrics at ${ip}:8000:\n${metrics
      .split("\n")
      .filter((l) =>
        /^vllm:(num_requests_waiting|num_requests_running|generation_tokens_total|kv_cache_usage_perc)\{/.test(l),
      )
      .join("\n")}\n`,
  );
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

say("Done. The cluster stays up (make cluster-down stops it); the operator and simulators have stopped.");
