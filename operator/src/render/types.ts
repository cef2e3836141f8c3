// What the renderers need from the rest of the operator. Kept as plain data so every renderer is a
// pure function from (spec, plan, facts) to objects.
import type { DeepSeekDeployment } from "../api/index.ts";
import type { Plan } from "../planner/index.ts";
import type { TokenPolicy } from "./endpoints.ts";

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
  };
  [k: string]: unknown;
};

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The subset of the planner's Plan that rendering uses. */
export type RenderPlan = Pick<
  Plan,
  | "gpusPerReplica"
  | "nodesPerReplica"
  | "dataParallel"
  | "engineArgs"
  | "engineEnv"
  | "gpuResourceName"
  | "nodeSelector"
  | "image"
  | "kvOffload"
>;

/** How the operator runs its own Jobs (weights pull and verify). */
export interface JobConfig {
  /** The operator's image: its CLI is the downloader. */
  image: string;
  /** Extra pod labels/annotations, e.g. sidecar.istio.io/inject: "false" so a mesh sidecar does not keep the Job running. */
  podLabels: Record<string, string>;
  podAnnotations: Record<string, string>;
  /** Where a download token may be sent (the chart's weights.tokenEndpoints); the Hub only when unset. */
  tokenPolicy?: TokenPolicy;
  /** Prefixes the engine image must start with (the chart's engine.allowedImagePrefixes); any when empty. */
  allowedImagePrefixes?: readonly string[];
  /** How download Jobs reach the Hub (the chart's weights.proxy and weights.caBundle). */
  network?: DownloadNetwork;
}

/** A proxy and a CA bundle for the download Jobs: the network is the cluster's, so the administrator sets them. */
export interface DownloadNetwork {
  httpsProxy?: string;
  httpProxy?: string;
  /** Hosts, domains (.example.com) and addresses reached directly. */
  noProxy?: readonly string[];
  /**
   * A ConfigMap in each deployment's namespace with extra trusted CAs in PEM (trust-manager distributes one
   * under the same name to every namespace); the downloader trusts them besides the public roots.
   */
  caBundle?: { configMap: string; key: string };
}

export interface RenderOptions {
  /** Whether free GPUs for one more whole replica are known to exist (enables surge rollouts). */
  spareReplicaCapacity: boolean;
}

export type Dsd = DeepSeekDeployment & { metadata: { name: string; namespace: string; uid: string } };

export function controllerRef(dsd: Dsd): OwnerReference {
  return {
    apiVersion: dsd.apiVersion,
    kind: dsd.kind,
    name: dsd.metadata.name,
    uid: dsd.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
