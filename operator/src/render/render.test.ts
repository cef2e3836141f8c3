import { describe, expect, it } from "@jest/globals";
import { plan } from "../planner/index.ts";
import { planInputFromSpec } from "../reconcile/plan-input.ts";
import { aDsd } from "../reconcile/fixtures.ts";
import {
  engineProbes,
  renderEngine,
  renderPdb,
  renderService,
  renderWeightsPull,
  renderWeightsPvc,
  requestedShape,
  type JobConfig,
} from "./index.ts";

describe("probes", () => {
  it("give the engine an hour to load, then check readiness on the engine's own endpoint", () => {
    const vllm = engineProbes("vllm");
    expect(vllm.startupProbe.periodSeconds * vllm.startupProbe.failureThreshold).toBe(3600);
    expect(vllm.readinessProbe.httpGet.path).toBe("/health");
    expect(engineProbes("sglang").readinessProbe.httpGet.path).toBe("/health_generate");
    // Liveness tolerates a busy engine for minutes.
    expect(vllm.livenessProbe.periodSeconds * vllm.livenessProbe.failureThreshold).toBeGreaterThanOrEqual(300);
  });
});

describe("engine workload", () => {
  it("renders a single-node replica as a Deployment with GPU limits, shm and the weights read-only", () => {
    const dsd = aDsd("flash", { gpu: { type: "B200" } });
    const p = plan(planInputFromSpec(dsd.spec));
    const d = renderEngine(dsd, p, { spareReplicaCapacity: false }, 1) as any;
    expect(d.kind).toBe("Deployment");
    const pod = d.spec.template.spec;
    expect(pod.containers[0].resources.limits).toEqual({ "nvidia.com/gpu": String(p.gpusPerReplica) });
    expect(pod.volumes).toContainEqual({ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "64Gi" } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: "weights", mountPath: "/models", readOnly: true });
    expect(pod.tolerations[0]).toEqual({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" });
    expect(pod.containers[0].command.slice(0, 3)).toEqual(["vllm", "serve", "/models"]);
  });

  it("puts the user's extra args last so they override the plan", () => {
    const dsd = aDsd("flash", { engine: { extraArgs: ["--max-num-seqs=8"] } });
    const p = plan(planInputFromSpec(dsd.spec));
    const cmd = (renderEngine(dsd, p, { spareReplicaCapacity: false }, 1) as any).spec.template.spec.containers[0]
      .command as string[];
    expect(cmd[cmd.length - 1]).toBe("--max-num-seqs=8");
  });

  it("renders a replica spanning nodes as a LeaderWorkerSet whose workers start at their data-parallel rank", () => {
    const dsd = aDsd("flash", {
      gpu: { type: "H100", count: 16 },
      parallelism: { data: 16, expert: true, nodesPerReplica: 2 },
      context: { targetConcurrency: 16 },
    });
    const p = plan(planInputFromSpec(dsd.spec));
    expect(p.nodesPerReplica).toBe(2);
    const lws = renderEngine(dsd, p, { spareReplicaCapacity: false }, 1) as any;
    expect(lws.kind).toBe("LeaderWorkerSet");
    expect(lws.spec.leaderWorkerTemplate.size).toBe(2);
    const leader = lws.spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0];
    expect(leader.command).toEqual(
      expect.arrayContaining(["--data-parallel-size-local", "8", "--data-parallel-address", "$(LWS_LEADER_ADDRESS)"]),
    );
    expect(leader.resources.limits["nvidia.com/gpu"]).toBe("8");
    const worker = lws.spec.leaderWorkerTemplate.workerTemplate.spec.containers[0];
    // The launcher (launch.ts, tested with hostile values in launch.test.ts) appends the start rank.
    expect(worker.command.slice(0, 2)).toEqual(["python3", "-c"]);
    expect(worker.command[2]).toContain("int(i) * 8");
    expect(worker.command.slice(3, 5)).toEqual(["vllm", "serve"]);
    expect(worker.command[worker.command.length - 1]).toBe("--headless");
    expect(worker.startupProbe).toBeUndefined();
    expect(renderService(dsd, true).spec).toMatchObject({
      selector: { "leaderworkerset.sigs.k8s.io/worker-index": "0" },
    });
  });

  it("mounts host memory for a CPU offload tier", () => {
    const dsd = aDsd("flash", { context: { offload: { tier: "CPU", size: "512Gi" }, targetConcurrency: 64 } });
    const p = plan(planInputFromSpec(dsd.spec));
    expect(p.kvOffload?.tier).toBe("cpu");
    const pod = (renderEngine(dsd, p, { spareReplicaCapacity: false }, 1) as any).spec.template.spec;
    expect(pod.containers[0].resources.requests.memory).toBe(`${64 * p.gpusPerReplica + 512}Gi`);
  });
});

describe("weights objects", () => {
  it("pulls with the spec's tuning, the token from the Secret, and the pod labels the operator is configured with", () => {
    const dsd = aDsd("flash", {
      model: {
        revision: "60d8d70770c6776ff598c94bb586a859a38244f1",
        source: { huggingFace: { tokenSecretRef: { name: "hf" } } },
      },
      weights: { download: { concurrency: 16, stallTimeoutSeconds: 60, timeoutSeconds: 3600 } },
    });
    const rendered = renderWeightsPvc(dsd, [dsd], requestedShape(dsd, "164Gi"));
    const pvc = { ...rendered, metadata: { ...rendered.metadata, uid: "u" } };
    const [, , , job] = renderWeightsPull(dsd, pvc, {
      image: "op:1",
      podLabels: { "sidecar.istio.io/inject": "false" },
      podAnnotations: {},
    }) as any[];
    const c = job.spec.template.spec.containers[0];
    expect(c.args).toEqual(
      expect.arrayContaining(["--concurrency", "16", "--stall-timeout", "60", "--timeout", "3600"]),
    );
    expect(c.env).toContainEqual({ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "hf", key: "token" } } });
    expect(job.spec.template.metadata.labels["sidecar.istio.io/inject"]).toBe("false");
    // A disrupted pod (drain, eviction, preemption) must not use up the backoff limit; it is checked first.
    expect(job.spec.podFailurePolicy.rules).toEqual([
      { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
      { action: "FailJob", onExitCodes: { operator: "In", values: [3] } },
    ]);
    expect(job.metadata.ownerReferences[0]).toMatchObject({
      kind: "PersistentVolumeClaim",
      uid: "u",
      controller: true,
    });
  });

  it("gives the download the administrator's proxy and CA bundle, and none of it when unset", () => {
    const dsd = aDsd("flash");
    const rendered = renderWeightsPvc(dsd, [dsd], requestedShape(dsd, "164Gi"));
    const pvc = { ...rendered, metadata: { ...rendered.metadata, uid: "u" } };
    const pod = (network?: JobConfig["network"]) =>
      (
        renderWeightsPull(dsd, pvc, {
          image: "op:1",
          podLabels: {},
          podAnnotations: {},
          ...(network ? { network } : {}),
        })[3] as any
      ).spec.template.spec;
    const p = pod({
      httpsProxy: "http://proxy.corp:3128",
      noProxy: ["localhost", ".svc"],
      caBundle: { configMap: "corp-ca", key: "bundle.pem" },
    });
    const c = p.containers[0];
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: "HTTPS_PROXY", value: "http://proxy.corp:3128" },
        { name: "NO_PROXY", value: "localhost,.svc" },
        { name: "NODE_EXTRA_CA_CERTS", value: "/etc/deepseek-operator/ca/ca.pem" },
      ]),
    );
    expect(c.env.map((e: { name: string }) => e.name)).not.toContain("HTTP_PROXY");
    expect(c.volumeMounts).toContainEqual({
      name: "ca-bundle",
      mountPath: "/etc/deepseek-operator/ca",
      readOnly: true,
    });
    expect(p.volumes).toContainEqual({
      name: "ca-bundle",
      configMap: { name: "corp-ca", items: [{ key: "bundle.pem", path: "ca.pem" }] },
    });
    // NO_PROXY alone means nothing; a CA alone still goes in.
    const noProxyOnly = pod({ noProxy: ["localhost"] }).containers[0].env.map((e: { name: string }) => e.name);
    expect(noProxyOnly).not.toContain("NO_PROXY");
    const plain = pod();
    expect(plain.containers[0].env.map((e: { name: string }) => e.name)).toEqual(["HOME"]);
    expect(plain.volumes.map((v: { name: string }) => v.name)).toEqual(["weights", "tmp"]);
  });

  it("keeps at most one replica down for voluntary disruptions", () => {
    expect((renderPdb(aDsd()) as any).spec.maxUnavailable).toBe(1);
  });
});
