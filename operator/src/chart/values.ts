// The Helm chart's values as one zod schema. `make crds` (generate-values-schema.ts) writes it to the chart's
// values.schema.json, which helm lint/template/install/upgrade enforce: a typo or a bad value is refused
// before anything reaches the cluster, with the value's path in the message. Where the chart configures what
// the DeepSeekDeployment API also has (node selectors, tolerations, quantities), the API's field schemas are
// reused so the two cannot disagree. Every object is strict: an unknown key is a typo, not a silent no-op.
import { z } from "zod";
import { dnsLabel, opaqueObject } from "../api/fields.ts";
import { labelValue, qualifiedName } from "../api/k8s-names.ts";
import { SchedulingSpec } from "../api/spec/scheduling.ts";
import { caBundleRef, noProxyEntry, proxyUrl } from "../render/network.ts";

const dnsSubdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { message: "must be a DNS-1123 subdomain" });

/** Labels and annotations: keys are qualified names (JSON Schema propertyNames, which helm checks). */
const stringMap = (description: string) =>
  z.record(qualifiedName("A qualified name such as example.com/key."), z.string().max(4096)).describe(description);
const labelMap = (description: string) =>
  z
    .record(qualifiedName("A qualified name such as example.com/key."), labelValue("A label value."))
    .describe(description);

/** Origins (scheme://host[:port]) as the operator's token policy takes them. */
const origin = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).describe("An http(s) origin.");

const port = z.int().min(1).max(65535).describe("A TCP port.");

/** A Kubernetes quantity as a pod's resources take it: CPU in cores or millicores, memory in bytes. */
const resourceQuantity = z
  .union([
    z.number().min(0),
    z.string().regex(/^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/, {
      message: "must be a quantity such as 100m, 1, 128Mi or 2Gi",
    }),
  ])
  .describe("A resource quantity.");
const resourceList = z
  .strictObject({ cpu: resourceQuantity.optional(), memory: resourceQuantity.optional() })
  .describe("CPU and memory.");

/** Prometheus durations as the ServiceMonitor CRD accepts them. */
const duration = z.string().regex(/^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/, {
  message: "must be a duration such as 30s or 1m",
});

const Image = z
  .strictObject({
    repository: z.string().min(1).describe("Image repository, without tag or digest."),
    tag: z
      .string()
      .regex(/^([\w][\w.-]{0,127})?$/, { message: "must be an image tag" })
      .describe("Image tag; the chart's appVersion when empty."),
    digest: z
      .string()
      .regex(/^(sha256:[a-f0-9]{64})?$/, { message: "must be sha256: followed by 64 hex digits" })
      .describe("Image digest (sha256:…); when set the image is pulled by digest and the tag is only informative."),
    pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).describe("When the kubelet pulls the image."),
  })
  .describe("The operator image; it also runs the weights download Jobs.");

const SecurityContext = z
  .looseObject({
    runAsNonRoot: z.boolean().optional(),
    runAsUser: z.int().min(0).optional(),
    runAsGroup: z.int().min(0).optional(),
    allowPrivilegeEscalation: z.boolean().optional(),
    readOnlyRootFilesystem: z.boolean().optional(),
    seccompProfile: z.looseObject({ type: z.enum(["RuntimeDefault", "Localhost", "Unconfined"]) }).optional(),
    capabilities: z
      .looseObject({ drop: z.array(z.string()).optional(), add: z.array(z.string()).optional() })
      .optional(),
  })
  .describe("A core/v1 (Pod)SecurityContext; the defaults meet the restricted Pod Security Standard.");

export const ChartValues = z
  .strictObject({
    image: Image,
    imagePullSecrets: z
      .array(z.strictObject({ name: dnsSubdomain.describe("A docker-registry Secret in the release namespace.") }))
      .describe("Secrets for pulling the operator image."),
    replicas: z.int().min(1).max(10).describe("Operator replicas; more than one needs leader election."),
    leaderElection: z.strictObject({ enabled: z.boolean() }).describe("One replica reconciles; the others wait."),
    workers: z.int().min(1).max(64).describe("Concurrent reconciles (DSO_WORKERS)."),
    watchNamespaces: z
      .array(dnsLabel("A namespace."))
      .describe("Namespaces to watch; empty watches all. When set, the operator's Role is bound in each of them."),
    weights: z
      .strictObject({
        tokenEndpoints: z.array(origin).describe("The only origins a download token is sent to."),
        plainHttpEndpoints: z.array(origin).describe("Of those, origins that may receive a token over plain http."),
        proxy: z
          .strictObject({
            httpsProxy: proxyUrl.or(z.literal("")).describe("HTTPS_PROXY of the download Jobs; empty for none."),
            httpProxy: proxyUrl.or(z.literal("")).describe("HTTP_PROXY of the download Jobs; empty for none."),
            noProxy: z.array(noProxyEntry).describe("NO_PROXY of the download Jobs, when a proxy is set."),
          })
          .describe("The proxy download Jobs reach the Hub through."),
        caBundle: z
          .strictObject({
            configMap: caBundleRef.shape.configMap
              .or(z.literal(""))
              .describe(
                "A ConfigMap of that name in each deployment's namespace (trust-manager can distribute one); empty for none.",
              ),
            key: caBundleRef.shape.key,
          })
          .describe("Extra CAs (PEM) the downloader trusts besides the public roots, e.g. a TLS-inspecting proxy's."),
      })
      .describe("Where download tokens may go, and how download Jobs reach the Hub."),
    engine: z
      .strictObject({
        allowedImagePrefixes: z
          .array(z.string().min(1).max(512))
          .describe("Prefixes spec.engine.image must start with; empty allows any image."),
      })
      .describe("What tenants may run as the engine."),
    finalizerPolicy: z
      .strictObject({ enabled: z.boolean() })
      .describe("Install the MutatingAdmissionPolicy that adds the finalizer at create (Kubernetes 1.36+)."),
    logLevel: z.enum(["trace", "debug", "info", "warn", "error"]).describe("Operator log level."),
    nodeOptions: z.string().describe("NODE_OPTIONS of the operator process (V8 heap limits)."),
    mallocArenaMax: z
      .string()
      .regex(/^([1-9][0-9]*)?$/, { message: "must be a positive integer as a string, or empty" })
      .describe("MALLOC_ARENA_MAX; empty keeps glibc's default."),
    metrics: z
      .strictObject({
        port,
        service: z
          .strictObject({ annotations: stringMap("Annotations of the metrics Service.") })
          .describe("The metrics Service."),
        serviceMonitor: z
          .strictObject({
            enabled: z.boolean().describe("Create a prometheus-operator ServiceMonitor for the metrics Service."),
            interval: duration.describe("Scrape interval."),
            scrapeTimeout: duration.describe("Scrape timeout; empty uses Prometheus' default."),
            labels: labelMap("Extra labels, e.g. the release label kube-prometheus-stack selects on."),
          })
          .describe("Scraping by the Prometheus operator."),
      })
      .describe("The /metrics endpoint."),
    health: z.strictObject({ port }).describe("The /healthz and /readyz endpoint."),
    podDisruptionBudget: z
      .strictObject({
        enabled: z.boolean(),
        maxUnavailable: z.union([z.int().min(0), z.string().regex(/^[0-9]+%$/)]).describe("Pods a drain may evict."),
      })
      .describe("Keeps a standby operator through node drains; never blocks a drain of a single replica."),
    serviceAccount: z
      .strictObject({
        create: z.boolean().describe("Create the ServiceAccount; else an existing one named below is used."),
        name: z.string().max(253).describe("ServiceAccount name; the release's full name when empty."),
        annotations: stringMap("Annotations, e.g. for workload identity."),
      })
      .describe("The operator's identity."),
    weightsJob: z
      .strictObject({
        podLabels: labelMap("Extra labels on the weights download Job pods."),
        podAnnotations: stringMap("Extra annotations on the weights download Job pods."),
      })
      .describe("Pods the operator creates to download weights."),
    podLabels: labelMap("Extra labels on the operator pods."),
    podAnnotations: stringMap("Extra annotations on the operator pods."),
    resources: z
      .strictObject({ requests: resourceList.optional(), limits: resourceList.optional() })
      .describe("The operator container's resources."),
    nodeSelector: SchedulingSpec.shape.nodeSelector.unwrap().describe("Node labels the operator pods require."),
    tolerations: SchedulingSpec.shape.tolerations.unwrap().describe("Tolerations of the operator pods."),
    affinity: opaqueObject("A core/v1 Affinity for the operator pods."),
    priorityClassName: z.string().max(253).describe("PriorityClass of the operator pods."),
    podSecurityContext: SecurityContext,
    securityContext: SecurityContext,
  })
  .describe("Values of the deepseek-operator Helm chart.");
export type ChartValues = z.input<typeof ChartValues>;

/** values.schema.json: JSON Schema draft 2020-12, as Helm 3.18+ and 4 validate it. */
export function valuesJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ChartValues, { target: "draft-2020-12", io: "input" });
}
