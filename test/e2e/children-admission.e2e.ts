// Property: for every spec the operator's schema accepts (fast-check generates them, pass-through
// fields included: node selectors, tolerations, env, arguments with shell syntax, images, annotations,
// Secret references, subPaths), every child object the operator renders is accepted by the real
// apiserver (server-side dry run). A bounded number of runs keeps it fast.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { parseDeepSeekDeployment } from "../../operator/src/api/index.ts";
import {
  C_IDENTIFIER,
  CONFIG_KEY,
  DNS1123_SUBDOMAIN,
  IMAGE_REFERENCE,
  LABEL_VALUE,
  QUALIFIED_NAME,
} from "../../operator/src/api/k8s-names.ts";
import { planSpec } from "../../operator/src/reconcile/plan.ts";
import {
  renderEngine,
  renderPdb,
  renderService,
  renderWeightsPull,
  renderWeightsPvc,
  renderWeightsVerify,
  type Dsd,
  type KubeObject,
  requestedShape,
} from "../../operator/src/render/index.ts";
import { kubectl, kubectlOk, REPO_ROOT, useTestNamespace, waitFor } from "./lib/index.ts";

const CRD_FILE = join(REPO_ROOT, "crds", "serving.deepseek-operator.io_deepseekdeployments.yaml");
const RUNS = Number(process.env.DSO_PROPERTY_RUNS ?? 40);
const REV = "60d8d70770c6776ff598c94bb586a859a38244f1";
const PRIORITY_CLASS = "e2e-dso-gpu-high";
const JOBS = { image: "registry.example.com/deepseek-operator:1", podLabels: {}, podAnnotations: {} };

const matching = (p: string, max: number) => fc.stringMatching(new RegExp(p)).filter((s) => s.length <= max);
const subdomain = matching(DNS1123_SUBDOMAIN, 60);
const secretRef = fc.record({ name: subdomain, key: matching(CONFIG_KEY, 40) }, { requiredKeys: ["name"] });
const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom("$(id)", "`id`", "; id", "a\nb", "$(VLLM_API_KEY)"),
);

const source = fc.oneof(
  fc
    .record(
      {
        endpoint: fc.constantFrom("https://huggingface.co", "https://hf-mirror.example.com"),
        tokenSecretRef: secretRef,
      },
      { requiredKeys: [] },
    )
    .map((huggingFace) => ({ huggingFace })),
  fc
    .record(
      {
        baseURL: fc.constantFrom("https://bucket.example.com/models/v4", "http://mirror.internal:8080/m"),
        tokenSecretRef: secretRef,
      },
      { requiredKeys: ["baseURL"] },
    )
    .map((url) => ({ url })),
  fc
    .record(
      { claimName: subdomain, subPath: fc.stringMatching(/^[a-z0-9_.-]{1,12}(\/[a-z0-9_-]{1,12}){0,2}$/) },
      { requiredKeys: ["claimName"] },
    )
    .map((pvc) => ({ pvc })),
);

const toleration = fc.record(
  {
    key: matching(QUALIFIED_NAME, 60),
    operator: fc.constantFrom("Exists", "Equal"),
    value: matching(LABEL_VALUE, 63),
    effect: fc.constantFrom("NoSchedule", "PreferNoSchedule", "NoExecute"),
    tolerationSeconds: fc.integer({ min: 0, max: 86400 }),
  },
  { requiredKeys: ["key"] },
);

const spec = fc.record(
  {
    model: fc.record({ revision: fc.constant(REV), source }),
    weights: fc.record({ storageClassName: subdomain }, { requiredKeys: [] }),
    engine: fc.record(
      {
        type: fc.constantFrom("vllm", "sglang"),
        image: matching(IMAGE_REFERENCE, 120),
        extraArgs: fc.array(text, { maxLength: 4 }),
        env: fc.array(
          fc.record({
            name: matching(C_IDENTIFIER, 30).filter(
              (n) => !n.startsWith("LWS_") && !n.startsWith("DSO_") && n !== "VLLM_API_KEY",
            ),
            value: text,
          }),
          { maxLength: 3 },
        ),
        runAsUser: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        rdma: fc.boolean(),
      },
      { requiredKeys: ["type"] },
    ),
    gpu: fc.record({ type: fc.constantFrom("H200", "B200", "H100") }),
    context: fc.record({
      maxModelLen: fc.constantFrom(8192, 131072, 1_048_576),
      targetConcurrency: fc.integer({ min: 1, max: 8 }),
    }),
    parallelism: fc.constantFrom(undefined, { nodesPerReplica: 2, data: 16, expert: true }),
    replicas: fc.integer({ min: 0, max: 3 }),
    scheduling: fc.record(
      {
        nodeSelector: fc.dictionary(matching(QUALIFIED_NAME, 60), matching(LABEL_VALUE, 63), { maxKeys: 3 }),
        tolerations: fc.array(toleration, { maxLength: 2 }),
        affinity: fc.constant({
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["gpu"] }] }],
            },
          },
        }),
        // The Priority admission plugin refuses a pod whose PriorityClass does not exist: a reference to
        // a cluster object, not a malformed value, so the generator names one that exists.
        priorityClassName: fc.constant(PRIORITY_CLASS),
        schedulerName: subdomain,
      },
      { requiredKeys: [] },
    ),
    service: fc.record(
      {
        type: fc.constantFrom("ClusterIP", "NodePort", "LoadBalancer"),
        port: fc.integer({ min: 1, max: 65535 }),
        annotations: fc.dictionary(matching(QUALIFIED_NAME, 60), text, { maxKeys: 3 }),
        apiKeySecretRef: secretRef,
        allowUnauthenticated: fc.boolean(),
      },
      { requiredKeys: ["type"] },
    ),
  },
  { requiredKeys: ["model", "engine", "gpu", "context"] },
);

function children(dsd: Dsd): KubeObject[] | undefined {
  const planned = planSpec(dsd.spec);
  if (!planned.plan) return undefined;
  const out: KubeObject[] = [];
  const engine = renderEngine(dsd, planned.plan, { spareReplicaCapacity: false }, dsd.spec.replicas) as any;
  if (engine.kind === "Deployment") out.push(engine);
  else {
    // The LeaderWorkerSet CRD is not installed here: its pod templates are checked as Pods.
    const t = engine.spec.leaderWorkerTemplate;
    for (const [role, tpl] of [
      ["leader", t.leaderTemplate],
      ["worker", t.workerTemplate],
    ])
      out.push({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `${dsd.metadata.name}-${role}`,
          namespace: dsd.metadata.namespace,
          labels: tpl.metadata.labels,
        },
        spec: tpl.spec,
      });
  }
  out.push(renderService(dsd, engine.kind !== "Deployment"), renderPdb(dsd));
  if (dsd.spec.model.source.pvc) out.push(renderWeightsVerify(dsd, JOBS));
  else {
    const pvc = renderWeightsPvc(dsd, [dsd], requestedShape(dsd, "170Gi"));
    out.push(pvc, ...renderWeightsPull(dsd, { ...pvc, metadata: { ...pvc.metadata, uid: "pvc-uid" } }, JOBS));
  }
  return out;
}

beforeAll(async () => {
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", CRD_FILE]);
  await kubectlOk(["apply", "--server-side", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "scheduling.k8s.io/v1",
      kind: "PriorityClass",
      metadata: { name: PRIORITY_CLASS },
      value: 1000,
    }),
  });
});

afterAll(async () => {
  await kubectl(["delete", "priorityclass", PRIORITY_CLASS, "--ignore-not-found"]);
});

describe("rendered children", () => {
  const ns = useTestNamespace("e2e-children");

  it(`are accepted by the apiserver for every spec the schema accepts (${RUNS} runs)`, async () => {
    // Pods need their namespace's default ServiceAccount, which the controller-manager creates.
    await waitFor(async () => (await kubectl(["get", "serviceaccount", "default", "-n", ns.name])).code === 0, {
      timeoutMs: 60_000,
      what: "the default ServiceAccount",
    });
    let rendered = 0;
    await fc.assert(
      fc.asyncProperty(spec, fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/), async (s, name) => {
        const parsed = parseDeepSeekDeployment({
          apiVersion: "serving.deepseek-operator.io/v1alpha1",
          kind: "DeepSeekDeployment",
          metadata: { name, namespace: ns.name, uid: "11111111-2222-3333-4444-555555555555" },
          spec: s,
        });
        fc.pre(parsed.ok);
        if (!parsed.ok) return;
        const objs = children(parsed.value as Dsd);
        fc.pre(objs !== undefined);
        rendered++;
        const r = await kubectl(["create", "--dry-run=server", "--validate=strict", "-f", "-"], {
          input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objs }),
        });
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
      }),
      { numRuns: RUNS, maxSkipsPerRun: 20, endOnFailure: true },
    );
    expect(rendered).toBe(RUNS);
  }, 600_000);
});
