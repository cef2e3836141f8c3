// What one reconcile looks at: read from the informer caches by the I/O layer, handed to the pure
// decide() as plain data.
import type { Dsd, JobConfig, KubeObject } from "../render/index.ts";
import type { GpuInventory } from "./status.ts";

export type Obj = KubeObject & {
  metadata: KubeObject["metadata"] & {
    uid?: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
    creationTimestamp?: string;
  };
};

export interface Pod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      ready?: boolean;
      restartCount?: number;
      state?: { waiting?: { reason?: string; message?: string } };
    }[];
  };
}

export interface Observed {
  now: Date;
  dsd: Dsd;
  /** What the schema refuses in the stored spec (an object stored before a rule existed). */
  specErrors?: string;
  /** DeepSeekDeployments of the namespace that use the same weights PVC (model, revision and source). */
  sharingWeights: Dsd[];
  pvc?: Obj;
  pullJob?: Obj;
  /** This deployment's verify Jobs (a source on an existing PVC), whatever they were made to check. */
  verifyJobs?: Obj[];
  /**
   * Weights PVCs that list this deployment as an owner but are no longer its own (the revision or
   * source changed), each with the deployments that use it now.
   */
  formerPvcs?: { pvc: Obj; users: Dsd[] }[];
  deployment?: Obj;
  lws?: Obj;
  service?: Obj;
  pdb?: Obj;
  /** The HorizontalPodAutoscaler or ScaledObject rendered for autoscaling.mode HPA or KEDA. */
  hpa?: Obj;
  scaledObject?: Obj;
  /** Whether the apiserver serves keda.sh/v1alpha1 ScaledObjects. */
  kedaServed?: boolean;
  pods: Pod[];
  /** Whether the apiserver serves leaderworkerset.x-k8s.io/v1. */
  lwsServed: boolean;
  gpus?: GpuInventory & { largestFreeBlock?: number };
  jobs: JobConfig;
}
