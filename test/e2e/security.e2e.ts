// Security on the real control plane: the operator's identity under exactly the chart's RBAC (refused
// Secrets and every namespace it does not watch), and the pods it renders admitted by the apiserver's
// Pod Security admission in namespaces labelled for the level the README promises.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { parseAllDocuments } from "yaml";
import { plan } from "../../operator/src/planner/index.ts";
import { planInputFromSpec } from "../../operator/src/reconcile/plan-input.ts";
import { aDsd } from "../../operator/src/reconcile/fixtures.ts";
import {
  renderEngine,
  renderWeightsPull,
  renderWeightsPvc,
  renderWeightsVerify,
  type KubeObject,
  requestedShape,
} from "../../operator/src/render/index.ts";
import { MUTATING_ADMISSION_POLICY_API } from "../../operator/src/controller/admission.ts";
import { installOperatorIdentity, RELEASE } from "../harness/operator.ts";
import { createTestNamespace, helm, kubectl, kubectlOk, REPO_ROOT, type TestNamespace } from "./lib/index.ts";

const WORK = join(REPO_ROOT, ".cluster", "e2e-security");
const CRD_FILE = join(REPO_ROOT, "crds", "serving.deepseek-operator.io_deepseekdeployments.yaml");
const JOBS = { image: "registry.example.com/deepseek-operator:1", podLabels: {}, podAnnotations: {} };

let system: TestNamespace;
let watched: TestNamespace;
let other: TestNamespace;
let baseline: TestNamespace;
let restricted: TestNamespace;
let operatorKubeconfig: string;

async function labelPss(ns: string, level: "baseline" | "restricted"): Promise<void> {
  await kubectlOk(["label", "namespace", ns, `pod-security.kubernetes.io/enforce=${level}`, "--overwrite"]);
}

beforeAll(async () => {
  mkdirSync(WORK, { recursive: true });
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", CRD_FILE]);
  system = await createTestNamespace("e2e-sec-system");
  watched = await createTestNamespace("e2e-sec-watched");
  other = await createTestNamespace("e2e-sec-other");
  baseline = await createTestNamespace("e2e-sec-baseline");
  restricted = await createTestNamespace("e2e-sec-restricted");
  await labelPss(watched.name, "baseline");
  await labelPss(baseline.name, "baseline");
  await labelPss(restricted.name, "restricted");
  await labelPss(system.name, "restricted");
  operatorKubeconfig = await installOperatorIdentity(system.name, WORK, [watched.name]);
}, 120_000);

afterAll(async () => {
  for (const ns of [system, watched, other, baseline, restricted]) await ns?.delete();
});

const asOperator = (args: string[]) => kubectl(args, { kubeconfig: operatorKubeconfig });

async function canI(verb: string, resource: string, ns?: string): Promise<boolean> {
  const r = await asOperator(["auth", "can-i", verb, resource, ...(ns ? ["-n", ns] : ["--all-namespaces"])]);
  return r.stdout.trim() === "yes";
}

/** Server-side dry run of a manifest; resolves with kubectl's exit code and messages. */
async function dryRun(obj: unknown, kubeconfig?: string) {
  const file = join(WORK, `dry-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(obj));
  return kubectl(["create", "--dry-run=server", "-f", file], kubeconfig ? { kubeconfig } : {});
}

function inNamespace(o: KubeObject, ns: string): KubeObject {
  return { ...o, metadata: { ...o.metadata, namespace: ns, ownerReferences: [] } };
}

describe("the operator's identity under the chart's RBAC (watchNamespaces set)", () => {
  it("can do its work in the watched namespace", async () => {
    for (const [verb, res] of [
      ["create", "deployments.apps"],
      ["patch", "jobs.batch"],
      ["create", "roles.rbac.authorization.k8s.io"],
      ["list", "deepseekdeployments.serving.deepseek-operator.io"],
      ["patch", "deepseekdeployments.serving.deepseek-operator.io/status"],
    ] as const)
      expect({ verb, res, ok: await canI(verb, res, watched.name) }).toEqual({ verb, res, ok: true });
    expect(await canI("list", "nodes")).toBe(true);
  });

  it("is refused Secrets, even in the namespace it watches", async () => {
    for (const verb of ["get", "list", "watch", "create"])
      expect({ verb, ok: await canI(verb, "secrets", watched.name) }).toEqual({ verb, ok: false });
    await kubectlOk(["create", "secret", "generic", "hf", "-n", watched.name, "--from-literal=token=hf_secret"]);
    const r = await asOperator(["get", "secret", "hf", "-n", watched.name, "-o", "json"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden/i);
    expect(r.stdout).not.toContain("hf_secret");
  });

  it("is refused every object in a namespace it does not watch, and cluster-wide writes", async () => {
    for (const [verb, res] of [
      ["create", "deployments.apps"],
      ["create", "jobs.batch"],
      ["create", "serviceaccounts"],
      ["create", "roles.rbac.authorization.k8s.io"],
      ["create", "rolebindings.rbac.authorization.k8s.io"],
      ["list", "deepseekdeployments.serving.deepseek-operator.io"],
      ["list", "persistentvolumeclaims"],
      ["create", "persistentvolumeclaims"],
    ] as const)
      expect({ verb, res, ok: await canI(verb, res, other.name) }).toEqual({ verb, res, ok: false });
    expect(await canI("create", "clusterroles.rbac.authorization.k8s.io")).toBe(false);
    expect(await canI("create", "deployments.apps")).toBe(false);
    expect(await canI("list", "secrets")).toBe(false);
  });

  it("applies the download Job, its ServiceAccount and Role in the watched namespace, and nowhere else", async () => {
    const dsd = aDsd("flash", {
      model: { revision: "a".repeat(40), source: { huggingFace: { tokenSecretRef: { name: "hf" } } } },
    });
    const pvc = renderWeightsPvc(dsd, [dsd], requestedShape(dsd, "170Gi"));
    const children = renderWeightsPull(dsd, { ...pvc, metadata: { ...pvc.metadata, uid: "u" } }, JOBS);
    for (const o of children) {
      // Really created (the RoleBinding's escalation check looks the Role up), except the Job.
      const ok =
        o.kind === "Job"
          ? await dryRun(inNamespace(o, watched.name), operatorKubeconfig)
          : await kubectl(["create", "-f", "-"], {
              kubeconfig: operatorKubeconfig,
              input: JSON.stringify(inNamespace(o, watched.name)),
            });
      expect({ kind: o.kind, code: ok.code, err: ok.stderr }).toEqual({ kind: o.kind, code: 0, err: "" });
      const refused = await dryRun(inNamespace(o, other.name), operatorKubeconfig);
      expect({ kind: o.kind, forbidden: /forbidden/i.test(refused.stderr) }).toEqual({ kind: o.kind, forbidden: true });
    }
  });
});

/** The pod a workload's template makes, for Pod Security admission (which enforces on pods). */
function podOf(template: { metadata?: unknown; spec: unknown }, ns: string, name: string) {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns }, spec: template.spec };
}

function engineTemplates(spec: Parameters<typeof aDsd>[1]) {
  const dsd = aDsd("flash", spec);
  const w = renderEngine(dsd, plan(planInputFromSpec(dsd.spec)), { spareReplicaCapacity: false }, 1) as any;
  return w.kind === "Deployment"
    ? [w.spec.template]
    : [w.spec.leaderWorkerTemplate.leaderTemplate, w.spec.leaderWorkerTemplate.workerTemplate];
}

const MULTI = {
  gpu: { type: "H100" as const, count: 16 },
  parallelism: { data: 16, expert: true, nodesPerReplica: 2 },
  context: { targetConcurrency: 16 },
};

describe("Pod Security admission of the pods the operator renders", () => {
  it("admits engine pods (single-node, leader, worker, vLLM and SGLang) at baseline", async () => {
    const templates = [
      ...engineTemplates({}),
      ...engineTemplates(MULTI),
      ...engineTemplates({ engine: { type: "sglang" }, service: { apiKeySecretRef: { name: "api" } } }),
    ];
    expect(templates.length).toBe(4);
    for (const [i, t] of templates.entries()) {
      const r = await dryRun(podOf(t, baseline.name, `engine-${i}`));
      expect({ i, code: r.code, err: r.stderr }).toEqual({ i, code: 0, err: "" });
    }
  });

  it("admits engine pods at restricted when spec.engine.runAsUser is set, and says why not without it", async () => {
    for (const [i, t] of engineTemplates({ ...MULTI, engine: { runAsUser: 1000 } }).entries()) {
      const r = await dryRun(podOf(t, restricted.name, `engine-nonroot-${i}`));
      expect({ i, code: r.code, err: r.stderr }).toEqual({ i, code: 0, err: "" });
    }
    const [root] = engineTemplates({});
    const r = await dryRun(podOf(root, restricted.name, "engine-root"));
    expect(r.code).not.toBe(0);
    // The only restricted rule the default engine pod breaks: the upstream images run as root.
    expect(r.stderr).toMatch(/violates PodSecurity "restricted:latest": runAsNonRoot != true/);
  });

  it("refuses an RDMA engine pod at baseline (IPC_LOCK): such namespaces need the privileged level", async () => {
    const [t] = engineTemplates({ engine: { rdma: true } });
    const r = await dryRun(podOf(t, baseline.name, "engine-rdma"));
    expect(r.stderr).toMatch(/violates PodSecurity "baseline:latest": non-default capabilities.*IPC_LOCK/);
  });

  it("admits the download and verify Job pods at restricted", async () => {
    const dsd = aDsd("flash", {
      model: { revision: "a".repeat(40), source: { huggingFace: { tokenSecretRef: { name: "hf" } } } },
    });
    const pvc = renderWeightsPvc(dsd, [dsd], requestedShape(dsd, "170Gi"));
    const job = renderWeightsPull(dsd, { ...pvc, metadata: { ...pvc.metadata, uid: "u" } }, JOBS).find(
      (o) => o.kind === "Job",
    ) as any;
    const verify = renderWeightsVerify(
      aDsd("local", { model: { revision: "a".repeat(40), source: { pvc: { claimName: "mine", subPath: "m" } } } }),
      JOBS,
    ) as any;
    await kubectlOk(["create", "serviceaccount", job.spec.template.spec.serviceAccountName, "-n", restricted.name]);
    for (const [name, t] of [
      ["pull", job.spec.template],
      ["verify", verify.spec.template],
    ] as const) {
      const r = await dryRun(podOf(t, restricted.name, name));
      expect({ name, code: r.code, err: r.stderr }).toEqual({ name, code: 0, err: "" });
    }
  });

  it("admits the operator's own pod, as the chart renders it, at restricted", async () => {
    const chart = join(REPO_ROOT, "charts", "deepseek-operator");
    const r = await helm([
      "template",
      RELEASE,
      chart,
      "--namespace",
      system.name,
      "--show-only",
      "templates/deployment.yaml",
      "--api-versions",
      MUTATING_ADMISSION_POLICY_API,
    ]);
    expect(r.code).toBe(0);
    const deployment = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as { kind: string; spec: { template: { spec: unknown } } })
      .find((d) => d.kind === "Deployment")!;
    const pod = podOf(deployment.spec.template, system.name, "operator");
    const res = await dryRun(pod);
    expect({ code: res.code, err: res.stderr }).toEqual({ code: 0, err: "" });
  });
});

describe("the NetworkPolicy example", () => {
  it("is accepted by the apiserver and selects the engine pods the operator renders", async () => {
    const file = join(REPO_ROOT, "docs", "examples", "engine-networkpolicy.yaml");
    const r = await kubectl(["create", "--dry-run=server", "--validate=strict", "-n", baseline.name, "-f", file]);
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: "" });
    const policy = parseAllDocuments(readFileSync(file, "utf8"))[0]!.toJS() as {
      spec: { podSelector: { matchLabels: Record<string, string> } };
    };
    const [template] = engineTemplates({});
    expect(template.metadata.labels).toMatchObject(policy.spec.podSelector.matchLabels);
  });
});
