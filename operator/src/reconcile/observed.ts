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
  /** DeepSeekDeployments of the namespace with the same model and revision: the users of a shared weights PVC. */
  sharingWeights: Dsd[];
  pvc?: Obj;
  pullJob?: Obj;
  verifyJob?: Obj;
  deployment?: Obj;
  lws?: Obj;
  service?: Obj;
  pdb?: Obj;
  pods: Pod[];
  /** Whether the apiserver serves leaderworkerset.x-k8s.io/v1. */
  lwsServed: boolean;
  gpus?: GpuInventory & { largestFreeBlock?: number };
  jobs: JobConfig;
}
