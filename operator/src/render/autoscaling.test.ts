// What the operator renders for autoscaling: the drain on every engine pod, the leader-only scale
// selector, and the HPA / ScaledObject of the hand-off modes.
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "@jest/globals";
import { plan } from "../planner/index.ts";
import { planInputFromSpec } from "../reconcile/plan-input.ts";
import { aDsd } from "../reconcile/fixtures.ts";
import { startEngineSimulator, type EngineSimulator } from "../sim/engine/server.ts";
import { postJson, waitFor } from "../sim/engine/testing.ts";
import { drainScript } from "./drain.ts";
import { renderEngine, renderHpa, renderScaledObject, scaleSelector } from "./index.ts";

const sims: EngineSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

describe("drain", () => {
  it("gives each engine pod a preStop drain and a grace period from spec.autoscaling.drainGracePeriodSeconds", () => {
    const dsd = aDsd("flash", { autoscaling: { drainGracePeriodSeconds: 1200 } });
    const pod = (renderEngine(dsd, plan(planInputFromSpec(dsd.spec)), { spareReplicaCapacity: false }, 1) as any).spec
      .template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(1200 + 5 + 30);
    const cmd = pod.containers[0].lifecycle.preStop.exec.command as string[];
    expect(cmd.slice(0, 2)).toEqual(["python3", "-c"]);
    expect(cmd[2]).toContain("deadline = time.time() + 1200");
  });

  it("the preStop program waits while the engine has a request in flight and returns once it has none", async () => {
    const sim = await startEngineSimulator({
      argv: ["vllm", "serve", "/m", "--served-model-name", "m", "--max-model-len", "8192"],
      port: 0,
      loadSeconds: 0,
      tickMs: 2,
    });
    sims.push(sim);
    await sim.ready;
    sim.setWedged(true);
    const req = postJson(`${sim.url}/v1/completions`, { model: "m", prompt: "x", max_tokens: 10 });
    await waitFor("admission", () => sim.stats().ranks.some((r) => r.running > 0));
    const proc = spawn("python3", ["-c", drainScript(600, `${sim.url}/metrics`, 0)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.on("data", (b: Buffer) => (out += b.toString()));
    let exited = false;
    const done = new Promise<number | null>((resolve) =>
      proc.on("exit", (code) => {
        exited = true;
        resolve(code);
      }),
    );
    await waitFor(
      "two polls of a busy engine",
      () => exited || (out.match(/draining: 1 request/g) ?? []).length >= 2,
      20_000,
    );
    expect(exited).toBe(false);
    sim.setWedged(false);
    expect((await req).status).toBe(200);
    expect(await done).toBe(0);
  }, 30_000);
});

describe("scale selector", () => {
  it("counts a multi-node replica once, by its leader", () => {
    expect(scaleSelector("flash", false)).toBe(
      "app.kubernetes.io/name=deepseek-engine,app.kubernetes.io/instance=flash,app.kubernetes.io/component=engine",
    );
    expect(scaleSelector("flash", true)).toMatch(/,leaderworkerset\.sigs\.k8s\.io\/worker-index=0$/);
  });
});

describe("hand-off modes", () => {
  const spec = {
    engine: { type: "vllm" as const },
    autoscaling: {
      mode: "HPA" as const,
      minReplicas: 1,
      maxReplicas: 6,
      targetQueueDepth: 2.5,
      targetTokensPerSecond: 1500,
      scaleUpStabilizationSeconds: 30,
      scaleDownStabilizationSeconds: 900,
      maxScaleDownStep: 1,
      maxScaleUpStep: 2,
    },
  };

  it("HPA: the scale subresource, Pods metrics per replica, HPA behavior from the spec's windows and steps", () => {
    const hpa = renderHpa(aDsd("flash", spec)) as any;
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "serving.deepseek-operator.io/v1alpha1",
      kind: "DeepSeekDeployment",
      name: "flash",
    });
    expect(hpa.spec.metrics).toEqual([
      {
        type: "Pods",
        pods: {
          metric: { name: "vllm_num_requests_waiting" },
          target: { type: "AverageValue", averageValue: "2500m" },
        },
      },
      {
        type: "Pods",
        pods: {
          metric: { name: "vllm_generation_tokens_per_second" },
          target: { type: "AverageValue", averageValue: "1500" },
        },
      },
    ]);
    expect(hpa.spec.behavior.scaleDown).toMatchObject({
      stabilizationWindowSeconds: 900,
      policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
    });
    expect(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds).toBe(30);
    expect(hpa.metadata.ownerReferences[0].uid).toBe("uid-flash");
  });

  it("KEDA: Prometheus triggers on the deployment's queue and tokens/s, thresholds per replica", () => {
    const so = renderScaledObject(
      aDsd("flash", {
        ...spec,
        autoscaling: {
          ...spec.autoscaling,
          mode: "KEDA",
          minReplicas: 0,
          metrics: { prometheus: { url: "http://prometheus.monitoring:9090" } },
        },
      }),
    ) as any;
    expect(so.apiVersion).toBe("keda.sh/v1alpha1");
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.triggers[0]).toEqual({
      type: "prometheus",
      name: "queue-depth",
      metadata: {
        serverAddress: "http://prometheus.monitoring:9090",
        query: 'sum(vllm:num_requests_waiting{namespace="team",pod=~"flash-.*"})',
        threshold: "2.5",
        activationThreshold: "0",
      },
    });
    expect(so.spec.triggers[1].metadata.query).toBe(
      'sum(rate(vllm:generation_tokens_total{namespace="team",pod=~"flash-.*"}[1m]))',
    );
    expect(so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBe(900);
  });

  it("KEDA: a user's query with $namespace and $name filled in", () => {
    const so = renderScaledObject(
      aDsd("flash", {
        autoscaling: {
          mode: "KEDA",
          maxReplicas: 2,
          metrics: {
            prometheus: {
              url: "http://p:9090",
              queries: { queueDepth: 'sum(vllm:num_requests_waiting{ns="$namespace",app="$name"})' },
            },
          },
        },
      }),
    ) as any;
    expect(so.spec.triggers[0].metadata.query).toBe('sum(vllm:num_requests_waiting{ns="team",app="flash"})');
  });
});
