// The replicas of one deployment as the autoscaler counts them, from the engine pods in the cache:
// ready (their leader is scraped), loading (created, not ready: capacity that is coming),
// crash-looping (not capacity), waiting for GPUs (unschedulable), and how long a load took.
import { ENGINE_PORT } from "../render/index.ts";

const LWS_WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index";
export const DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

export interface EnginePod {
  metadata: {
    name: string;
    uid?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string; reason?: string; lastTransitionTime?: string }[];
    containerStatuses?: { restartCount?: number; state?: { waiting?: { reason?: string } } }[];
  };
}

export type ReplicaPhase = "Ready" | "Loading" | "Pending" | "CrashLooping";

export interface ReplicaCensus {
  /** Every replica (by its leader pod) and its phase, for the policy. */
  replicas: { pod: EnginePod; phase: ReplicaPhase }[];
  /** Ready replicas' leader pods, the ones to read. */
  ready: EnginePod[];
  loading: number;
  crashLooping: number;
  waitingForGpus: number;
  /** Seconds from creation to Ready of the slowest ready replica that loaded once (no restarts). */
  loadTimeSeconds?: number;
}

const cond = (p: EnginePod, type: string) => p.status?.conditions?.find((c) => c.type === type);

/** A multi-node replica is its leader (worker index 0); a single-node one is its pod. */
function isLeader(p: EnginePod): boolean {
  const idx = p.metadata.labels?.[LWS_WORKER_INDEX];
  return idx === undefined || idx === "0";
}

export function census(pods: EnginePod[]): ReplicaCensus {
  const out: ReplicaCensus = { replicas: [], ready: [], loading: 0, crashLooping: 0, waitingForGpus: 0 };
  let load: number | undefined;
  for (const p of pods) {
    if (p.metadata.deletionTimestamp || !isLeader(p)) continue;
    if (p.status?.phase === "Succeeded" || p.status?.phase === "Failed") continue;
    const ready = cond(p, "Ready")?.status === "True";
    const crash = p.status?.containerStatuses?.some((c) => c.state?.waiting?.reason === "CrashLoopBackOff") ?? false;
    const sched = cond(p, "PodScheduled");
    const phase: ReplicaPhase = ready
      ? "Ready"
      : crash
        ? "CrashLooping"
        : sched?.status === "False" && sched.reason === "Unschedulable"
          ? "Pending"
          : "Loading";
    out.replicas.push({ pod: p, phase });
    if (ready) {
      out.ready.push(p);
      const restarts = p.status?.containerStatuses?.reduce((a, c) => a + (c.restartCount ?? 0), 0) ?? 0;
      const from = Date.parse(p.metadata.creationTimestamp ?? "");
      const to = Date.parse(cond(p, "Ready")?.lastTransitionTime ?? "");
      if (restarts === 0 && Number.isFinite(from) && Number.isFinite(to) && to >= from)
        load = Math.max(load ?? 0, Math.round((to - from) / 1000));
    } else if (crash) out.crashLooping++;
    else if (sched?.status === "False" && sched.reason === "Unschedulable") out.waitingForGpus++;
    else out.loading++;
  }
  if (load !== undefined) out.loadTimeSeconds = load;
  return out;
}

export function targetOf(p: EnginePod): { uid: string; name: string; ip: string; port: number } | undefined {
  const ip = p.status?.podIP;
  if (!ip) return undefined;
  return { uid: p.metadata.uid ?? p.metadata.name, name: p.metadata.name, ip, port: ENGINE_PORT };
}
