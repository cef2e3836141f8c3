import { commonLabels, engineLabels } from "./names.ts";
import { ENGINE_PORT } from "./probes.ts";
import { controllerRef, type Dsd, type KubeObject } from "./types.ts";

const LWS_LEADER = { "leaderworkerset.sigs.k8s.io/worker-index": "0" };

/** The OpenAI-compatible endpoint. With a LeaderWorkerSet only leaders serve HTTP. */
export function renderService(dsd: Dsd, multiNode: boolean): KubeObject {
  const name = dsd.metadata.name;
  const svc = dsd.spec.service;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: dsd.metadata.namespace,
      labels: commonLabels(name, "engine"),
      ...(svc.annotations ? { annotations: svc.annotations } : {}),
      ownerReferences: [controllerRef(dsd)],
    },
    spec: {
      type: svc.type,
      selector: { ...engineLabels(name), ...(multiNode ? LWS_LEADER : {}) },
      ports: [{ name: "http", port: svc.port, targetPort: ENGINE_PORT, protocol: "TCP", appProtocol: "http" }],
    },
  };
}

/** At most one replica down for voluntary disruptions (node drains): a lost replica costs minutes. */
export function renderPdb(dsd: Dsd): KubeObject {
  const name = dsd.metadata.name;
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name,
      namespace: dsd.metadata.namespace,
      labels: commonLabels(name, "engine"),
      ownerReferences: [controllerRef(dsd)],
    },
    spec: { maxUnavailable: 1, selector: { matchLabels: engineLabels(name) } },
  };
}

export function endpointUrl(dsd: Dsd): string {
  return `http://${dsd.metadata.name}.${dsd.metadata.namespace}.svc:${dsd.spec.service.port}/v1`;
}
