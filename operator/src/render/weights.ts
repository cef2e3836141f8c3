// Weights storage and the download Job. The PVC stands for the weights of one (model, revision):
// every DeepSeekDeployment using it is listed as an owner, so garbage collection removes it only
// after the last one is gone, and only when that one's reclaim policy says Delete (the finalizer
// releases the PVC from owners whose policy is Retain).
import { bytesToGi, parseQuantity } from "../api/index.ts";
import { ANNOTATION, LABEL, MANAGED_BY, shortHash, weightsName } from "./names.ts";
import type { DownloadNetwork, Dsd, JobConfig, KubeObject, OwnerReference } from "./types.ts";
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

const PUBLIC_HUB = "https://huggingface.co";

/** What distinguishes the bytes of one source from another's; undefined for the public Hub. */
function weightsSourceKey(dsd: Dsd): string | undefined {
  const src = dsd.spec.model.source;
  if (src.url) return `url:${src.url.baseURL}`;
  const endpoint = (src.huggingFace?.endpoint ?? PUBLIC_HUB).replace(/\/+$/, "");
  return endpoint === PUBLIC_HUB ? undefined : `hf:${endpoint}`;
}

export function weightsPvcName(dsd: Dsd): string {
  const pvc = dsd.spec.model.source.pvc;
  return pvc ? pvc.claimName : weightsName(dsd.spec.model.name, dsd.spec.model.revision, weightsSourceKey(dsd));
}

export function defaultWeightsSize(modelBytes: number | undefined): string {
  // Unknown models get a size large enough for V4-Flash-class checkpoints; users can override it.
  return bytesToGi(Math.ceil((modelBytes ?? 200 * 2 ** 30) * HEADROOM));
}

/** The shape of a weights PVC: what the apiserver fixes at creation (a size only grows). */
interface PvcShape {
  accessModes: string[];
  storage: string;
  storageClassName?: string;
}

/** The shape a deployment asks for. */
export function requestedShape(dsd: Dsd, defaultSize: string): PvcShape {
  const w = dsd.spec.weights;
  return {
    accessModes: [w.accessMode],
    storage: w.size ?? defaultSize,
    ...(w.storageClassName ? { storageClassName: w.storageClassName } : {}),
  };
}

/** The shape a PVC has. */
export function liveShape(pvc: KubeObject): PvcShape {
  const spec =
    (
      pvc as {
        spec?: { accessModes?: string[]; resources?: { requests?: { storage?: string } }; storageClassName?: string };
      }
    ).spec ?? {};
  return {
    accessModes: spec.accessModes ?? [],
    storage: spec.resources?.requests?.storage ?? "0",
    ...(spec.storageClassName ? { storageClassName: spec.storageClassName } : {}),
  };
}

/**
 * How a live PVC falls short of what a deployment asks for, or undefined when it does not. A larger
 * volume is no shortfall; an unset storage class accepts any.
 */
export function shapeShortfall(want: PvcShape, have: PvcShape): string | undefined {
  const gaps: string[] = [];
  if (want.accessModes.join(",") !== have.accessModes.join(","))
    gaps.push(`access mode ${have.accessModes.join(",")} (asked: ${want.accessModes.join(",")})`);
  if (want.storageClassName && want.storageClassName !== have.storageClassName)
    gaps.push(`storage class ${have.storageClassName ?? "(default)"} (asked: ${want.storageClassName})`);
  let small: boolean;
  try {
    small = parseQuantity(have.storage) < parseQuantity(want.storage);
  } catch {
    small = have.storage !== want.storage;
  }
  if (small) gaps.push(`size ${have.storage} (asked: ${want.storage})`);
  return gaps.length > 0 ? gaps.join(", ") : undefined;
}

/** The owner references of a shared PVC: every user that is not leaving under Retain. */
function pvcOwners(users: Dsd[]): OwnerReference[] {
  return users
    .filter((u) => u.spec.weights.reclaimPolicy === "Delete" || !u.metadata.deletionTimestamp)
    .map((u) => ({ apiVersion: u.apiVersion, kind: u.kind, name: u.metadata.name, uid: u.metadata.uid }))
    .sort((a, b) => compareStrings(a.uid, b.uid));
}

/**
 * The shared PVC, named for the deployment at hand and owned (non-controller) by every user that is
 * not leaving under Retain. Its shape is the one it was created with (`shape` is the live one once
 * it exists): the first creator decides it, and a later deployment never resizes or reshapes it,
 * which the apiserver would refuse on every retry.
 */
export function renderWeightsPvc(template: Dsd, users: Dsd[], shape: PvcShape): KubeObject {
  const name = weightsPvcName(template);
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: template.metadata.namespace,
      labels: weightsLabels(name),
      annotations: {
        [ANNOTATION.model]: template.spec.model.name,
        [ANNOTATION.revision]: template.spec.model.revision,
      },
      ownerReferences: pvcOwners(users),
    },
    spec: shapeSpec(shape),
  };
}

function shapeSpec(shape: PvcShape) {
  return {
    accessModes: shape.accessModes,
    resources: { requests: { storage: shape.storage } },
    ...(shape.storageClassName ? { storageClassName: shape.storageClassName } : {}),
  };
}

/**
 * A live weights PVC re-applied with other owners (released by a deployment that moved on or is
 * leaving): everything the operator applied, at its live values, so the apply changes the owners
 * only. The resourceVersion makes it a precondition: a concurrent change by another user fails it.
 */
export function renderPvcOwners(
  live: KubeObject & { metadata: { resourceVersion?: string } },
  users: Dsd[],
): KubeObject {
  const a = live.metadata.annotations ?? {};
  const keep = [ANNOTATION.model, ANNOTATION.revision, ANNOTATION.attempts].filter((k) => a[k] !== undefined);
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: live.metadata.name,
      namespace: live.metadata.namespace,
      labels: weightsLabels(live.metadata.name),
      annotations: Object.fromEntries(keep.map((k) => [k, a[k]!])),
      ownerReferences: pvcOwners(users),
      ...(live.metadata.resourceVersion ? { resourceVersion: live.metadata.resourceVersion } : {}),
    },
    spec: shapeSpec(liveShape(live)),
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
  const ca = job.network?.caBundle;
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
        // Pods retry transient failures; exit code 3 (401/403/404/disk full) fails the Job at once. A
        // pod lost to a node drain, an eviction or a preemption is not the download's failure: it is
        // replaced without using up the backoff limit (the next pod resumes from the bytes on disk).
        backoffLimit: 3,
        podFailurePolicy: {
          rules: [
            { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
            { action: "FailJob", onExitCodes: { operator: "In", values: [3] } },
          ],
        },
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
                  ...networkEnv(job.network),
                ],
                resources: { requests: { cpu: "2", memory: "2Gi" }, limits: { memory: "4Gi" } },
                securityContext: restrictedContainer,
                volumeMounts: [
                  { name: "weights", mountPath: MODELS_MOUNT },
                  { name: "tmp", mountPath: "/tmp" },
                  ...(ca ? [{ name: "ca-bundle", mountPath: CA_MOUNT, readOnly: true }] : []),
                ],
              },
            ],
            volumes: [
              { name: "weights", persistentVolumeClaim: { claimName: name } },
              { name: "tmp", emptyDir: {} },
              // Not optional: a missing ConfigMap holds the pod in ContainerCreating with a FailedMount Event,
              // where a download without its CA would only fail later on an untrusted certificate.
              ...(ca
                ? [{ name: "ca-bundle", configMap: { name: ca.configMap, items: [{ key: ca.key, path: CA_FILE }] } }]
                : []),
            ],
          },
        },
      },
    },
  ];
}

const CA_MOUNT = "/etc/deepseek-operator/ca";
const CA_FILE = "ca.pem";

/**
 * The variables curl and undici read (the downloader's HTTP goes through undici's EnvHttpProxyAgent behind a
 * proxy), and NODE_EXTRA_CA_CERTS, which Node adds to its public roots for every TLS connection.
 */
function networkEnv(n: DownloadNetwork | undefined): { name: string; value: string }[] {
  if (!n) return [];
  const env: { name: string; value: string }[] = [];
  if (n.httpsProxy) env.push({ name: "HTTPS_PROXY", value: n.httpsProxy });
  if (n.httpProxy) env.push({ name: "HTTP_PROXY", value: n.httpProxy });
  if ((n.httpsProxy || n.httpProxy) && n.noProxy?.length) env.push({ name: "NO_PROXY", value: n.noProxy.join(",") });
  if (n.caBundle) env.push({ name: "NODE_EXTRA_CA_CERTS", value: `${CA_MOUNT}/${CA_FILE}` });
  return env;
}

const VERIFY_JOB = /^(.+)-verify-([0-9a-f]{8})-(\d{1,3})$/;

/**
 * What a verify Job checks, as a hash: the files of this model and revision at this claim and folder.
 * A Job is only evidence for the key it was made for, so the key is part of its name.
 */
export function verifyKey(dsd: Dsd): string {
  const pvc = dsd.spec.model.source.pvc!;
  return shortHash("pvc", pvc.claimName, pvc.subPath ?? "", dsd.spec.model.name, dsd.spec.model.revision);
}

/** `<deployment>-verify-<key>-<attempt>`: a retry is a new Job, so the failed one can go in the same step. */
function verifyJobName(dsd: Dsd, attempt: number): string {
  return `${dsd.metadata.name}-verify-${verifyKey(dsd)}-${attempt}`;
}

/** The key and attempt a verify Job's name carries, or undefined for another Job. */
export function parseVerifyJobName(dsdName: string, jobName: string): { key: string; attempt: number } | undefined {
  const m = VERIFY_JOB.exec(jobName);
  return m && m[1] === dsdName ? { key: m[2]!, attempt: Number(m[3]) } : undefined;
}

/** For an existing PVC: a Job that verifies the files in place, read-only, owned by the deployment. */
export function renderWeightsVerify(dsd: Dsd, job: JobConfig, attempt = 0): KubeObject {
  const pvc = dsd.spec.model.source.pvc!;
  const dir = pvc.subPath ? `${MODELS_MOUNT}/${pvc.subPath}` : MODELS_MOUNT;
  const labels = { ...weightsLabels(pvc.claimName), [LABEL.instance]: dsd.metadata.name };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: verifyJobName(dsd, attempt),
      namespace: dsd.metadata.namespace,
      labels,
      annotations: { [ANNOTATION.model]: dsd.spec.model.name, [ANNOTATION.revision]: dsd.spec.model.revision },
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
      podFailurePolicy: {
        rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }],
      },
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
