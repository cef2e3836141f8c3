// The engine workload: a Deployment when a replica fits on one node, a LeaderWorkerSet when it
// spans nodes. Arguments come from the plan; the user's extraArgs go last so they win.
import { commonLabels, engineLabels } from "./names.ts";
import { ENGINE_PORT, engineProbes } from "./probes.ts";
import { drainLifecycle, terminationGraceSeconds } from "./drain.ts";
import { MODELS_MOUNT, weightsPvcName } from "./weights.ts";
import { controllerRef, type Dsd, type KubeObject, type RenderOptions, type RenderPlan } from "./types.ts";
import {
  literalForKubelet,
  SGLANG_API_KEY_ENV,
  sglangApiKeyLauncher,
  VLLM_API_KEY_ENV,
  vllmWorkerLauncher,
} from "./launch.ts";

export const LWS_API = "leaderworkerset.x-k8s.io/v1";
const DP_RPC_PORT = 13345;
const SHM = "64Gi";

function modelDir(dsd: Dsd): string {
  const sub = dsd.spec.model.source.pvc?.subPath;
  return sub ? `${MODELS_MOUNT}/${sub}` : MODELS_MOUNT;
}

/**
 * The engine's argv. Every user-supplied string is one element, escaped for the kubelet's `$(VAR)`
 * expansion; nothing here goes through a shell.
 */
function serveCommand(dsd: Dsd, plan: RenderPlan, servesHttp: boolean): string[] {
  const dir = literalForKubelet(modelDir(dsd));
  const served = literalForKubelet(dsd.spec.model.name);
  const common = [...plan.engineArgs, ...dsd.spec.engine.extraArgs.map(literalForKubelet)];
  if (dsd.spec.engine.type === "sglang") {
    const keyed = servesHttp && dsd.spec.service.apiKeySecretRef !== undefined;
    return [
      ...(keyed ? sglangApiKeyLauncher() : ["python3", "-m", "sglang.launch_server"]),
      "--model-path",
      dir,
      "--served-model-name",
      served,
      "--host",
      "0.0.0.0",
      "--port",
      String(ENGINE_PORT),
      ...common,
    ];
  }
  return [
    "vllm",
    "serve",
    dir,
    "--served-model-name",
    served,
    "--host",
    "0.0.0.0",
    "--port",
    String(ENGINE_PORT),
    ...common,
  ];
}

/** Multi-node data parallelism: each pod runs its slice of the DP ranks; the leader serves HTTP. */
function multiNodeArgs(dsd: Dsd, plan: RenderPlan, leader: boolean): string[] {
  const localDp = localDpSize(plan);
  if (dsd.spec.engine.type === "sglang") {
    return [
      "--nnodes",
      String(plan.nodesPerReplica),
      "--node-rank",
      "$(LWS_WORKER_INDEX)",
      "--dist-init-addr",
      `$(LWS_LEADER_ADDRESS):${DP_RPC_PORT}`,
    ];
  }
  const args = [
    "--data-parallel-size-local",
    String(localDp),
    "--data-parallel-address",
    "$(LWS_LEADER_ADDRESS)",
    "--data-parallel-rpc-port",
    String(DP_RPC_PORT),
  ];
  // A worker's --data-parallel-start-rank is appended by its launcher (launch.ts).
  if (!leader) args.push("--headless");
  return args;
}

function podTemplate(dsd: Dsd, plan: RenderPlan, role: "single" | "leader" | "worker") {
  const s = dsd.spec;
  const gpusPerPod = plan.gpusPerReplica / plan.nodesPerReplica;
  const labels = { ...commonLabels(dsd.metadata.name, "engine"), ...engineLabels(dsd.metadata.name) };
  const probes = engineProbes(s.engine.type);
  const cmd = [
    ...serveCommand(dsd, plan, role !== "worker"),
    ...(role === "single" ? [] : multiNodeArgs(dsd, plan, role === "leader")),
  ];
  const apiKey = role !== "worker" ? s.service.apiKeySecretRef : undefined;
  const env = [
    { name: "VLLM_ENGINE_READY_TIMEOUT_S", value: "3600" },
    { name: "HF_HUB_OFFLINE", value: "1" },
    ...(s.engine.runAsUser !== undefined ? [{ name: "HOME", value: "/tmp" }] : []),
    ...Object.entries(plan.engineEnv).map(([name, value]) => ({ name, value })),
    ...s.engine.env.map((e) => ({ name: e.name, value: literalForKubelet(e.value) })),
    // Last, so that no earlier value can reference it with $(...).
    ...(apiKey
      ? [
          {
            name: s.engine.type === "sglang" ? SGLANG_API_KEY_ENV : VLLM_API_KEY_ENV,
            valueFrom: { secretKeyRef: { name: apiKey.name, key: apiKey.key } },
          },
        ]
      : []),
  ];
  const nodeSelector = { ...plan.nodeSelector, ...(s.scheduling?.nodeSelector ?? {}) };
  const offload = plan.kvOffload?.tier === "disk" && plan.kvOffload.mountPath ? plan.kvOffload : undefined;
  return {
    metadata: { labels },
    spec: {
      ...(s.scheduling?.priorityClassName ? { priorityClassName: s.scheduling.priorityClassName } : {}),
      ...(s.scheduling?.schedulerName ? { schedulerName: s.scheduling.schedulerName } : {}),
      ...(s.scheduling?.affinity ? { affinity: s.scheduling.affinity } : {}),
      nodeSelector,
      tolerations: [
        { key: plan.gpuResourceName, operator: "Exists", effect: "NoSchedule" },
        ...(s.scheduling?.tolerations ?? []),
      ],
      // In-flight requests finish before the engine stops (render/drain.ts).
      terminationGracePeriodSeconds: terminationGraceSeconds(s.autoscaling.drainGracePeriodSeconds),
      // The engines never call the apiserver.
      automountServiceAccountToken: false,
      securityContext: {
        seccompProfile: { type: "RuntimeDefault" },
        ...(s.engine.runAsUser !== undefined
          ? { runAsNonRoot: true, runAsUser: s.engine.runAsUser, runAsGroup: s.engine.runAsUser }
          : {}),
      },
      containers: [
        {
          name: "engine",
          image: s.engine.image ?? plan.image,
          command:
            role === "worker" && s.engine.type === "vllm" ? [...vllmWorkerLauncher(localDpSize(plan)), ...cmd] : cmd,
          env,
          ports: [{ name: "http", containerPort: ENGINE_PORT, protocol: "TCP" }],
          securityContext: engineContainerSecurity(s.engine.rdma === true),
          resources: {
            requests: {
              [plan.gpuResourceName]: String(gpusPerPod),
              cpu: String(8 * gpusPerPod),
              memory: `${hostMemoryGi(plan, gpusPerPod)}Gi`,
            },
            limits: { [plan.gpuResourceName]: String(gpusPerPod) },
          },
          ...(role === "worker" ? {} : { ...probes, lifecycle: drainLifecycle(s.autoscaling.drainGracePeriodSeconds) }),
          volumeMounts: [
            { name: "weights", mountPath: MODELS_MOUNT, readOnly: true },
            { name: "dshm", mountPath: "/dev/shm" },
            ...(offload ? [{ name: "kv-offload", mountPath: offload.mountPath! }] : []),
          ],
        },
      ],
      volumes: [
        { name: "weights", persistentVolumeClaim: { claimName: weightsPvcName(dsd), readOnly: true } },
        { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: SHM } },
        ...(offload
          ? [
              {
                name: "kv-offload",
                emptyDir: { sizeLimit: `${Math.ceil(offload.bytesPerReplica / plan.nodesPerReplica / 2 ** 30)}Gi` },
              },
            ]
          : []),
      ],
    },
  };
}

/** Host memory per pod: 64 GiB per GPU, plus a CPU-tier KV offload (it lives in host RAM). */
function hostMemoryGi(plan: RenderPlan, gpusPerPod: number): number {
  const cpuOffload = plan.kvOffload?.tier === "cpu" ? plan.kvOffload.bytesPerReplica / plan.nodesPerReplica : 0;
  return 64 * gpusPerPod + Math.ceil(cpuOffload / 2 ** 30);
}

/** Data-parallel ranks on one pod of a replica. */
function localDpSize(plan: RenderPlan): number {
  return Math.max(1, plan.dataParallel / plan.nodesPerReplica);
}

/**
 * Baseline-compatible and as close to restricted as the engine images allow: no privilege escalation,
 * no capabilities, the runtime's seccomp profile. RDMA needs IPC_LOCK to pin memory for the NICs.
 */
function engineContainerSecurity(rdma: boolean) {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"], ...(rdma ? { add: ["IPC_LOCK"] } : {}) },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Rollout budget that never needs twice the GPUs: surge only into known-free capacity. */
export function rolloutBudget(dsd: Dsd, spare: boolean): { maxSurge: number; maxUnavailable: number } {
  const r = dsd.spec.rollout;
  const surge = r.strategy === "Surge" || (r.strategy === "Auto" && spare);
  return surge
    ? { maxSurge: Math.max(1, r.maxSurge), maxUnavailable: 0 }
    : { maxSurge: 0, maxUnavailable: Math.max(1, r.maxUnavailable) };
}

export function renderEngine(dsd: Dsd, plan: RenderPlan, opts: RenderOptions, replicas: number): KubeObject {
  const name = dsd.metadata.name;
  const meta = {
    name,
    namespace: dsd.metadata.namespace,
    labels: commonLabels(name, "engine"),
    ownerReferences: [controllerRef(dsd)],
  };
  if (plan.nodesPerReplica <= 1) {
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta,
      spec: {
        replicas,
        selector: { matchLabels: engineLabels(name) },
        strategy: { type: "RollingUpdate", rollingUpdate: rolloutBudget(dsd, opts.spareReplicaCapacity) },
        // A replica is "available" only after it has served for a while, not the moment it loads.
        minReadySeconds: 30,
        progressDeadlineSeconds: 7200,
        revisionHistoryLimit: 3,
        template: podTemplate(dsd, plan, "single"),
      },
    };
  }
  return {
    apiVersion: LWS_API,
    kind: "LeaderWorkerSet",
    metadata: meta,
    spec: {
      replicas,
      startupPolicy: "LeaderCreated",
      rolloutStrategy: {
        type: "RollingUpdate",
        rollingUpdateConfiguration: rolloutBudget(dsd, opts.spareReplicaCapacity),
      },
      leaderWorkerTemplate: {
        size: plan.nodesPerReplica,
        restartPolicy: "RecreateGroupOnPodRestart",
        leaderTemplate: podTemplate(dsd, plan, "leader"),
        workerTemplate: podTemplate(dsd, plan, "worker"),
      },
    },
  };
}
