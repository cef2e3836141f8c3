// Weights storage and the download Job. The PVC stands for the weights of one (model, revision):
// every DeepSeekDeployment using it is listed as an owner, so garbage collection removes it only
// after the last one is gone, and only when that one's reclaim policy says Delete (the finalizer
// releases the PVC from owners whose policy is Retain).
import { bytesToGi } from "../api/index.ts";
import { ANNOTATION, LABEL, MANAGED_BY, weightsName } from "./names.ts";
import type { Dsd, JobConfig, KubeObject, OwnerReference } from "./types.ts";
import { compareStrings } from "../util/compare.ts";
import { DEFAULT_TOKEN_POLICY, PLAIN_HTTP_ORIGINS_ENV, TOKEN_ORIGINS_ENV } from "./endpoints.ts";

export const MODELS_MOUNT = "/models";
const HEADROOM = 1.1;
const NON_ROOT = 65532;

export function weightsLabels(name: string): Record<string, string> {
  return {
    [LABEL.weights]: name,
    [LABEL.component]: "weights",
    [LABEL.partOf]: "deepseek-operator",
    [LABEL.managedBy]: MANAGED_BY,
  };
}

export function weightsPvcName(dsd: Dsd): string {
  const pvc = dsd.spec.model.source.pvc;
  return pvc ? pvc.claimName : weightsName(dsd.spec.model.name, dsd.spec.model.revision);
}

export function defaultWeightsSize(modelBytes: number | undefined): string {
  // Unknown models get a size large enough for V4-Flash-class checkpoints; users can override it.
  return bytesToGi(Math.ceil((modelBytes ?? 200 * 2 ** 30) * HEADROOM));
}

/**
 * The shared PVC, shaped by `template` (the deployment at hand) and owned (non-controller) by every
 * user that is not leaving under Retain.
 */
export function renderWeightsPvc(template: Dsd, users: Dsd[], defaultSize: string): KubeObject {
  const first = template;
  const name = weightsPvcName(first);
  const w = first.spec.weights;
  const owners: OwnerReference[] = users
    .filter((u) => u.spec.weights.reclaimPolicy === "Delete" || !u.metadata.deletionTimestamp)
    .map((u) => ({ apiVersion: u.apiVersion, kind: u.kind, name: u.metadata.name, uid: u.metadata.uid }))
    .sort((a, b) => compareStrings(a.uid, b.uid));
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: first.metadata.namespace,
      labels: weightsLabels(name),
      annotations: { [ANNOTATION.model]: first.spec.model.name, [ANNOTATION.revision]: first.spec.model.revision },
      ownerReferences: owners,
    },
    spec: {
      accessModes: [w.accessMode],
      resources: { requests: { storage: w.size ?? defaultSize } },
      ...(w.storageClassName ? { storageClassName: w.storageClassName } : {}),
    },
  };
}

const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

function pullArgs(dsd: Dsd, pvcName: string): string[] {
  const { model, weights } = dsd.spec;
  const args = ["weights", "pull", "--repo", model.name, "--revision", model.revision, "--dir", MODELS_MOUNT];
  if (model.source.huggingFace) args.push("--endpoint", model.source.huggingFace.endpoint);
  if (model.source.url) args.push("--base-url", model.source.url.baseURL);
  args.push(
    "--concurrency",
    String(weights.download.concurrency),
    "--stall-timeout",
    String(weights.download.stallTimeoutSeconds),
    "--timeout",
    String(weights.download.timeoutSeconds),
    "--report-pvc",
    `${dsd.metadata.namespace}/${pvcName}`,
  );
  return args;
}

/**
 * The download Job and the identity it runs as: a ServiceAccount whose Role may patch only this
 * PVC (to report progress). All are owned by the PVC, so they go when the weights go.
 */
export function renderWeightsPull(
  dsd: Dsd,
  pvc: KubeObject & { metadata: { uid?: string } },
  job: JobConfig,
): KubeObject[] {
  const name = pvc.metadata.name;
  const ns = dsd.metadata.namespace;
  const jobName = `${name}-pull`;
  const owner: OwnerReference[] = pvc.metadata.uid
    ? [
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          name,
          uid: pvc.metadata.uid,
          controller: true,
          blockOwnerDeletion: false,
        },
      ]
    : [];
  const labels = weightsLabels(name);
  const meta = (n: string) => ({ name: n, namespace: ns, labels, ownerReferences: owner });
  const token = dsd.spec.model.source.huggingFace?.tokenSecretRef ?? dsd.spec.model.source.url?.tokenSecretRef;
  const policy = job.tokenPolicy ?? DEFAULT_TOKEN_POLICY;
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(jobName), automountServiceAccountToken: true },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta(jobName),
      rules: [
        { apiGroups: [""], resources: ["persistentvolumeclaims"], resourceNames: [name], verbs: ["get", "patch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(jobName),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: jobName },
      subjects: [{ kind: "ServiceAccount", name: jobName, namespace: ns }],
    },
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        ...meta(jobName),
        annotations: { [ANNOTATION.model]: dsd.spec.model.name, [ANNOTATION.revision]: dsd.spec.model.revision },
      },
      spec: {
        // Pods retry transient failures; exit code 3 (401/403/404/disk full) fails the Job at once.
        backoffLimit: 3,
        podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { operator: "In", values: [3] } }] },
        activeDeadlineSeconds: dsd.spec.weights.download.timeoutSeconds + 600,
        template: {
          metadata: { labels: { ...job.podLabels, ...labels }, annotations: job.podAnnotations },
          spec: {
            serviceAccountName: jobName,
            restartPolicy: "Never",
            securityContext: {
              runAsNonRoot: true,
              runAsUser: NON_ROOT,
              runAsGroup: NON_ROOT,
              fsGroup: NON_ROOT,
              seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
              {
                name: "pull",
                image: job.image,
                command: ["deepseek-operator"],
                args: pullArgs(dsd, name),
                env: [
                  { name: "HOME", value: "/tmp" },
                  ...(token
                    ? [
                        { name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: token.name, key: token.key } } },
                        // The downloader refuses to send the token anywhere else (endpoints.ts).
                        { name: TOKEN_ORIGINS_ENV, value: policy.tokenOrigins.join(",") },
                        { name: PLAIN_HTTP_ORIGINS_ENV, value: policy.plainHttpOrigins.join(",") },
                      ]
                    : []),
                ],
                resources: { requests: { cpu: "2", memory: "2Gi" }, limits: { memory: "4Gi" } },
                securityContext: restrictedContainer,
                volumeMounts: [
                  { name: "weights", mountPath: MODELS_MOUNT },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "weights", persistentVolumeClaim: { claimName: name } },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
    },
  ];
}

/** For an existing PVC: a Job that verifies the files in place, read-only, owned by the deployment. */
export function renderWeightsVerify(dsd: Dsd, job: JobConfig): KubeObject {
  const pvc = dsd.spec.model.source.pvc!;
  const dir = pvc.subPath ? `${MODELS_MOUNT}/${pvc.subPath}` : MODELS_MOUNT;
  const labels = { ...weightsLabels(pvc.claimName), [LABEL.instance]: dsd.metadata.name };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: `${dsd.metadata.name}-weights-verify`,
      namespace: dsd.metadata.namespace,
      labels,
      annotations: { [ANNOTATION.revision]: dsd.spec.model.revision },
      ownerReferences: [
        {
          apiVersion: dsd.apiVersion,
          kind: dsd.kind,
          name: dsd.metadata.name,
          uid: dsd.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      backoffLimit: 1,
      template: {
        metadata: { labels: { ...job.podLabels, ...labels }, annotations: job.podAnnotations },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: NON_ROOT, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "verify",
              image: job.image,
              command: ["deepseek-operator"],
              args: [
                "weights",
                "verify",
                "--dir",
                dir,
                "--repo",
                dsd.spec.model.name,
                "--revision",
                dsd.spec.model.revision,
              ],
              resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } },
              securityContext: restrictedContainer,
              volumeMounts: [{ name: "weights", mountPath: MODELS_MOUNT, readOnly: true }],
            },
          ],
          volumes: [{ name: "weights", persistentVolumeClaim: { claimName: pvc.claimName, readOnly: true } }],
        },
      },
    },
  };
}
