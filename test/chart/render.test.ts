// `helm template` of the chart: what it grants (RBAC), how the operator pod runs (restricted security context),
// and what each value changes. The snapshots hold the rendered RBAC and the default manifests, so a change to
// either shows up in review; the explicit assertions say what must hold whatever the snapshot.
import { describe, expect, it } from "@jest/globals";
import { CHART, find, has, helm, render, type KubeObject } from "./helm.ts";
import { restrictedViolations } from "./restricted.ts";

const FULLNAME = "dso-deepseek-operator";
const clusterRoleRules = (objs: KubeObject[]) => find(objs, "ClusterRole", FULLNAME).rules;
const operatorPod = (objs: KubeObject[]) => find(objs, "Deployment").spec.template.spec;
const container = (objs: KubeObject[]) => operatorPod(objs).containers[0];
const env = (objs: KubeObject[]) =>
  Object.fromEntries((container(objs).env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));

describe("the chart with its default values", () => {
  const objs = render();

  it("passes helm lint --strict", () => {
    const r = helm(["lint", "--strict", CHART]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/0 chart\(s\) failed/);
    expect(r.status).toBe(0);
  });

  it("renders the manifests in the snapshot", () => {
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toMatchSnapshot();
    expect(objs).toMatchSnapshot();
  });

  it("grants the operator the RBAC rules in the snapshot, leases only in its own namespace", () => {
    const clusterRole = find(objs, "ClusterRole", FULLNAME);
    const reads = find(objs, "ClusterRole", `${FULLNAME}-cluster`);
    const role = find(objs, "Role", `${FULLNAME}-leader-election`);
    expect({ cluster: clusterRole.rules, clusterReads: reads.rules, leaderElection: role.rules }).toMatchSnapshot();
    expect(role.metadata.namespace).toBe("ops");
    expect(JSON.stringify(clusterRole.rules)).not.toContain("leases");
    // Nothing may read Secrets: the Hub token is mounted into the weights Job, never read.
    for (const r of objs.filter((o) => o.kind === "ClusterRole" || o.kind === "Role")) {
      expect(JSON.stringify(r.rules)).not.toContain("secrets");
      expect(r.rules.some((x: any) => x.verbs.includes("*") || x.resources.includes("*"))).toBe(false);
    }
    const binding = find(objs, "ClusterRoleBinding", FULLNAME);
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: FULLNAME, namespace: "ops" }]);
    expect(find(objs, "ClusterRoleBinding", `${FULLNAME}-cluster`).subjects).toEqual(binding.subjects);
    expect(find(objs, "RoleBinding").subjects).toEqual(binding.subjects);
  });

  it("with watchNamespaces, grants a Role in each watched namespace and keeps only reads cluster-wide", () => {
    const objs = render("--set-json", 'watchNamespaces=["team-a","team-b"]');
    expect(objs.some((o) => o.kind === "ClusterRole" && o.metadata.name === FULLNAME)).toBe(false);
    const roles = objs.filter((o) => o.kind === "Role" && o.metadata.name === FULLNAME);
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(["team-a", "team-b"]);
    expect(roles[0]!.rules).toEqual(clusterRoleRules(render()));
    const bindings = objs.filter((o) => o.kind === "RoleBinding" && o.metadata.name === FULLNAME);
    expect(bindings.map((b) => [b.metadata.namespace, b.roleRef.kind, b.roleRef.name]).sort()).toEqual([
      ["team-a", "Role", FULLNAME],
      ["team-b", "Role", FULLNAME],
    ]);
    const reads = find(objs, "ClusterRole", `${FULLNAME}-cluster`).rules as { verbs: string[]; resources: string[] }[];
    expect(reads.every((r) => r.verbs.every((v) => ["get", "list", "watch"].includes(v)))).toBe(true);
    expect(reads.flatMap((r) => r.resources).sort()).toEqual(["nodes", "pods"]);
  });

  it("runs the operator pod under the restricted Pod Security Standard as UID 65532", () => {
    const pod = operatorPod(objs);
    expect(restrictedViolations(pod)).toEqual([]);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container(objs).securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container(objs).volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
  });

  it("starts the CLI from the image by the name the weights Jobs use too", () => {
    expect(container(objs).image).toBe("ghcr.io/deepseek-operator/deepseek-operator:0.1.0");
    expect(container(objs).command).toEqual(["deepseek-operator", "run"]);
    expect(env(objs).DSO_OPERATOR_IMAGE).toBe(container(objs).image);
  });

  it("exposes metrics on a Service that selects the operator pods, and a PDB that never blocks a drain", () => {
    const svc = find(objs, "Service", `${FULLNAME}-metrics`);
    const podLabels = find(objs, "Deployment").spec.template.metadata.labels;
    expect(svc.spec.selector).toEqual(expect.objectContaining({ "app.kubernetes.io/instance": "dso" }));
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(podLabels[k]).toBe(v);
    expect(svc.spec.ports).toEqual([{ name: "metrics", port: 8080, targetPort: "metrics" }]);
    const pdb = find(objs, "PodDisruptionBudget");
    expect(pdb.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: find(objs, "Deployment").spec.selector.matchLabels },
    });
    expect(has(objs, "ServiceMonitor")).toBe(false);
  });
});

describe("values that change the rendering", () => {
  it("pins the image by digest, for the operator and its weights Jobs alike", () => {
    const digest = `sha256:${"b".repeat(64)}`;
    const objs = render("--set", `image.digest=${digest}`, "--set", "image.repository=registry.example/ops/dso");
    expect(container(objs).image).toBe(`registry.example/ops/dso@${digest}`);
    expect(env(objs).DSO_OPERATOR_IMAGE).toBe(`registry.example/ops/dso@${digest}`);
  });

  it("uses imagePullSecrets and a tag", () => {
    const objs = render("--set-json", 'imagePullSecrets=[{"name":"regcred"}]', "--set", "image.tag=1.2.3");
    expect(operatorPod(objs).imagePullSecrets).toEqual([{ name: "regcred" }]);
    expect(container(objs).image).toBe("ghcr.io/deepseek-operator/deepseek-operator:1.2.3");
  });

  it("changes the security context, and the restricted check notices what breaks it", () => {
    const objs = render(
      "--set",
      "podSecurityContext.runAsUser=1000",
      "--set",
      "securityContext.allowPrivilegeEscalation=true",
      "--set-json",
      'securityContext.capabilities={"drop":["ALL"],"add":["SYS_ADMIN"]}',
    );
    expect(operatorPod(objs).securityContext.runAsUser).toBe(1000);
    expect(restrictedViolations(operatorPod(objs))).toEqual([
      "container operator: securityContext.allowPrivilegeEscalation is not false",
      "container operator: securityContext.capabilities.add has SYS_ADMIN",
    ]);
  });

  it("binds the RBAC to an existing ServiceAccount when the chart does not create one", () => {
    const objs = render("--set", "serviceAccount.create=false", "--set", "serviceAccount.name=platform-operator");
    expect(has(objs, "ServiceAccount")).toBe(false);
    expect(operatorPod(objs).serviceAccountName).toBe("platform-operator");
    expect(find(objs, "ClusterRoleBinding").subjects[0].name).toBe("platform-operator");
    expect(find(objs, "RoleBinding").subjects[0].name).toBe("platform-operator");
  });

  it("annotates a created ServiceAccount (workload identity)", () => {
    const objs = render("--set-json", 'serviceAccount.annotations={"iam.example/role":"dso"}');
    expect(find(objs, "ServiceAccount").metadata.annotations).toEqual({ "iam.example/role": "dso" });
  });

  it("watches only the listed namespaces, and binds the finalizer policy to them where the API is served", () => {
    const api = "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy";
    const objs = render("--set-json", 'watchNamespaces=["team-a","team-b"]', "--api-versions", api);
    expect(env(objs).DSO_WATCH_NAMESPACES).toBe("team-a,team-b");
    const binding = find(objs, "MutatingAdmissionPolicyBinding");
    expect(binding.spec.matchResources.namespaceSelector.matchExpressions[0].values).toEqual(["team-a", "team-b"]);
    expect(has(render(), "MutatingAdmissionPolicy")).toBe(false);
  });

  it("adds a ServiceMonitor selecting the metrics Service when the Prometheus operator's API is served", () => {
    const objs = render(
      "--set",
      "metrics.serviceMonitor.enabled=true",
      "--set-json",
      'metrics.serviceMonitor.labels={"release":"kps"}',
      "--set",
      "metrics.serviceMonitor.scrapeTimeout=10s",
      "--api-versions",
      "monitoring.coreos.com/v1/ServiceMonitor",
    );
    const sm = find(objs, "ServiceMonitor");
    const svc = find(objs, "Service", `${FULLNAME}-metrics`);
    expect(sm.metadata.labels.release).toBe("kps");
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels[k]).toBe(v);
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: ["ops"] });
    expect(sm.spec.endpoints).toEqual([{ port: "metrics", path: "/metrics", interval: "30s", scrapeTimeout: "10s" }]);
  });

  it("drops the PDB on request", () => {
    expect(has(render("--set", "podDisruptionBudget.enabled=false"), "PodDisruptionBudget")).toBe(false);
  });

  it("passes weights Job labels and annotations to the operator as JSON", () => {
    const objs = render(
      "--set-json",
      'weightsJob.podLabels={"team":"ml"}',
      "--set-json",
      'weightsJob.podAnnotations={"sidecar.istio.io/inject":"false"}',
    );
    expect(JSON.parse(env(objs).DSO_JOB_POD_LABELS!)).toEqual({ team: "ml" });
    expect(JSON.parse(env(objs).DSO_JOB_POD_ANNOTATIONS!)).toEqual({ "sidecar.istio.io/inject": "false" });
    expect(env(render()).DSO_JOB_POD_LABELS).toBeUndefined();
  });

  it("passes the download Jobs' proxy and CA bundle to the operator, and nothing when unset", () => {
    const objs = render(
      "--set",
      "weights.proxy.httpsProxy=http://proxy.corp.example:3128",
      "--set-json",
      'weights.proxy.noProxy=["10.0.0.0/8",".corp.example"]',
      "--set",
      "weights.caBundle.configMap=corp-ca",
    );
    expect(env(objs)).toMatchObject({
      DSO_JOB_HTTPS_PROXY: "http://proxy.corp.example:3128",
      DSO_JOB_NO_PROXY: "10.0.0.0/8,.corp.example",
      DSO_JOB_CA_CONFIGMAP: "corp-ca",
      DSO_JOB_CA_KEY: "ca.crt",
    });
    expect(env(objs).DSO_JOB_HTTP_PROXY).toBeUndefined();
    const plain = env(render());
    for (const k of ["DSO_JOB_HTTPS_PROXY", "DSO_JOB_HTTP_PROXY", "DSO_JOB_NO_PROXY", "DSO_JOB_CA_CONFIGMAP"])
      expect(plain[k]).toBeUndefined();
  });

  it("turns leader election off and scales the operator", () => {
    const objs = render("--set", "replicas=1", "--set", "leaderElection.enabled=false", "--set", "workers=8");
    expect(find(objs, "Deployment").spec.replicas).toBe(1);
    expect(env(objs)).toMatchObject({ DSO_LEADER_ELECT: "false", DSO_WORKERS: "8" });
  });
});
