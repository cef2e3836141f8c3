import { describe, expect, it } from "@jest/globals";
import { plan } from "../planner/index.ts";
import { planInputFromSpec } from "../reconcile/plan-input.ts";
import { aDsd } from "../reconcile/fixtures.ts";
import {
  renderEngine,
  renderPdb,
  renderService,
  renderWeightsPull,
  renderWeightsPvc,
  renderWeightsVerify,
  type KubeObject,
  requestedShape,
} from "../render/index.ts";
import { CLUSTER_RULES, LEADER_ELECTION_RULES, NAMESPACED_RULES, type PolicyRule } from "./rbac.ts";

const RESOURCE: Record<string, string> = {
  Deployment: "deployments",
  LeaderWorkerSet: "leaderworkersets",
  Service: "services",
  PodDisruptionBudget: "poddisruptionbudgets",
  PersistentVolumeClaim: "persistentvolumeclaims",
  ServiceAccount: "serviceaccounts",
  Role: "roles",
  RoleBinding: "rolebindings",
  Job: "jobs",
};

const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0]! : "");

function allows(rules: PolicyRule[], group: string, resource: string, verb: string): boolean {
  return rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
}

const namespaced = NAMESPACED_RULES.map((r) => r.rule);
const everything = [...NAMESPACED_RULES, ...CLUSTER_RULES, ...LEADER_ELECTION_RULES];

function renderedChildren(): KubeObject[] {
  const single = aDsd("flash", {
    model: { revision: "a".repeat(40), source: { huggingFace: { tokenSecretRef: { name: "hf" } } } },
  });
  const multi = aDsd("wide", {
    gpu: { type: "H100", count: 16 },
    parallelism: { data: 16, expert: true, nodesPerReplica: 2 },
    context: { targetConcurrency: 16 },
  });
  const pvc = {
    ...renderWeightsPvc(single, [single], requestedShape(single, "170Gi")),
    metadata: { name: "w", namespace: "team", uid: "u" },
  };
  const job = { image: "op:1", podLabels: {}, podAnnotations: {} };
  const fromPvc = aDsd("local", { model: { revision: "a".repeat(40), source: { pvc: { claimName: "mine" } } } });
  return [
    renderEngine(single, plan(planInputFromSpec(single.spec)), { spareReplicaCapacity: false }, 1),
    renderEngine(multi, plan(planInputFromSpec(multi.spec)), { spareReplicaCapacity: false }, 1),
    renderService(single, false),
    renderPdb(single),
    renderWeightsPvc(single, [single], requestedShape(single, "170Gi")),
    ...renderWeightsPull(single, pvc, job),
    renderWeightsVerify(fromPvc, job),
  ];
}

describe("the operator's RBAC", () => {
  it("may create and patch (server-side apply) every kind it renders, in the namespaces it watches", () => {
    const kinds = new Set<string>();
    for (const o of renderedChildren()) {
      const resource = RESOURCE[o.kind];
      expect({ kind: o.kind, known: resource !== undefined }).toEqual({ kind: o.kind, known: true });
      kinds.add(o.kind);
      for (const verb of ["create", "patch"])
        expect({ kind: o.kind, verb, ok: allows(namespaced, groupOf(o.apiVersion), resource!, verb) }).toEqual({
          kind: o.kind,
          verb,
          ok: true,
        });
    }
    expect(kinds.size).toBe(Object.keys(RESOURCE).length);
  });

  it("holds every permission of the Role it grants the download Job (RBAC refuses an escalation otherwise)", () => {
    const role = renderedChildren().find((o) => o.kind === "Role") as unknown as { rules: PolicyRule[] };
    for (const r of role.rules)
      for (const g of r.apiGroups)
        for (const res of r.resources)
          for (const v of r.verbs) expect({ res, v, ok: allows(namespaced, g, res, v) }).toEqual({ res, v, ok: true });
  });

  it("never touches Secrets, uses no wildcard and never updates a child (server-side apply is a patch)", () => {
    for (const { why, rule } of everything) {
      expect(why.length).toBeGreaterThan(10);
      expect(rule.resources).not.toContain("secrets");
      expect(rule.resources).not.toContain("*");
      expect(rule.verbs).not.toContain("*");
      expect(rule.apiGroups).not.toContain("*");
      if (rule.verbs.includes("update"))
        expect(rule.resources.every((r) => r === "leases" || r.endsWith("/finalizers"))).toBe(true);
    }
  });

  it("keeps cluster-wide only reads", () => {
    for (const { rule } of CLUSTER_RULES)
      expect(rule.verbs.every((v) => ["get", "list", "watch"].includes(v))).toBe(true);
  });
});
