// plan(input) → Plan: pure and deterministic. Without overrides it takes the smallest power-of-two
// GPU count per replica (never below the smallest published replica for the engine × GPU ×
// checkpoint) whose best confirmed layout holds the weights plus `concurrency` sequences of
// maxModelLen; the best layout is the one holding the most sequences, ties going to the recipe's
// preferred mode (data-parallel attention + expert parallelism before tensor parallelism).
import { engineInvocation, OFFLOAD_MOUNT_PATH } from "./args.ts";
import { evaluate, type CapacityContext } from "./capacity.ts";
import { resolveGpu, resolveModel, supportFor, type ResolvedSupport } from "./catalog.ts";
import { checkPlanInput, MAX_GPUS_PER_REPLICA, PlanInputError, type PlanInput, type PlanOverrides } from "./input.ts";
import { kvBytesPerToken } from "./kv.ts";
import { ENGINE_PROFILES } from "./profiles/engines.ts";
import type { IndexerDtype, KvDtype, ParallelMode } from "./profiles/types.ts";
import {
  blockers,
  feasibleReason,
  infeasibleReason,
  kvShardingSentence,
  type Alternative,
  type ReasonContext,
} from "./reason.ts";
import type { Capacity, Layout, Plan } from "./types.ts";
import { planNotes } from "./warnings.ts";

interface Candidate {
  layout: Layout;
  capacity: Capacity;
  blockers: string[];
}

function layoutsFor(n: number, support: ResolvedSupport, o: PlanOverrides): Layout[] {
  const decodeContext = o.decodeContext ?? 1;
  if (o.tensor !== undefined || o.data !== undefined) {
    const tensor = o.tensor ?? n / o.data!;
    const data = o.data ?? n / o.tensor!;
    if (!Number.isInteger(tensor) || !Number.isInteger(data) || tensor * data !== n) return [];
    const mode: ParallelMode = data > 1 ? "dp-attention" : "tp";
    return [{ gpus: n, mode, tensor, data, expert: o.expert ?? mode === "dp-attention", decodeContext }];
  }
  const modes: readonly ParallelMode[] = support.modes.length > 0 ? support.modes : ["tp"];
  return modes
    .filter((m) => m === "tp" || n > 1)
    .map((mode) =>
      mode === "tp"
        ? { gpus: n, mode, tensor: n, data: 1, expert: o.expert ?? false, decodeContext }
        : { gpus: n, mode, tensor: 1, data: n, expert: o.expert ?? true, decodeContext },
    );
}

/** The layout holding the most sequences at n GPUs; on a tie the earlier (preferred) mode. */
function bestAt(
  n: number,
  support: ResolvedSupport,
  o: PlanOverrides,
  cap: CapacityContext,
  rc: ReasonContext,
): Candidate | undefined {
  let best: Candidate | undefined;
  for (const layout of layoutsFor(n, support, o)) {
    const capacity = evaluate(cap, layout);
    const c = { layout, capacity, blockers: blockers(rc, layout, capacity) };
    if (!best) {
      best = c;
      continue;
    }
    const [ok, bestOk] = [c.blockers.length === 0, best.blockers.length === 0];
    if ((ok && !bestOk) || (ok === bestOk && c.capacity.maxConcurrentSequences > best.capacity.maxConcurrentSequences))
      best = c;
  }
  return best;
}

function candidateSizes(
  o: PlanOverrides,
  support: ResolvedSupport,
  gpusPerNode: number,
): { sizes: number[]; fixed: boolean } {
  const fixed =
    o.gpusPerReplica ??
    (o.tensor !== undefined && o.data !== undefined ? o.tensor * o.data : undefined) ??
    (o.nodesPerReplica !== undefined ? o.nodesPerReplica * gpusPerNode : undefined);
  if (fixed !== undefined) return { sizes: [fixed], fixed: true };
  const lo = Math.max(support.minGpusPerReplica ?? 1, o.tensor ?? 1, o.data ?? 1);
  const sizes: number[] = [];
  for (let n = 1; n <= MAX_GPUS_PER_REPLICA; n *= 2) {
    if (n >= lo && (n <= gpusPerNode || n % gpusPerNode === 0)) sizes.push(n);
  }
  return { sizes, fixed: false };
}

export function plan(input: PlanInput): Plan {
  const problems = checkPlanInput(input);
  if (problems.length > 0) throw new PlanInputError(problems);

  const model = resolveModel(input.model);
  const gpu = resolveGpu(input.gpu);
  const engine = ENGINE_PROFILES[input.engine];
  const support = supportFor(engine.id, gpu, model);
  const gpusPerNode = input.gpusPerNode ?? gpu.defaultGpusPerNode;
  const o = input.overrides ?? {};
  const kvDtype: KvDtype = input.kvCacheDtype === "bf16" ? "bf16" : "fp8";
  const indexerDtype: IndexerDtype = kvDtype === "bf16" ? "bf16" : (support.fp8IndexerDtype ?? "fp8");
  const capCtx: CapacityContext = {
    model,
    gpu,
    engine,
    kvDtype,
    indexerDtype,
    maxModelLen: input.maxModelLen,
    offloadBytesPerReplica: input.offload?.bytesPerReplica,
  };
  const rc: ReasonContext = {
    input,
    model,
    gpu,
    engine,
    support,
    kvDtype,
    indexerDtype,
    kvBytesPerToken: kvBytesPerToken(model, kvDtype, indexerDtype),
  };

  const { sizes, fixed } = candidateSizes(o, support, gpusPerNode);
  if (sizes.length === 0) {
    // A replica that spans nodes takes whole nodes, so its size is a multiple of the node's GPUs: with
    // 6-GPU nodes no power of two above 6 qualifies (the engines' parallel sizes are powers of two).
    const field =
      o.tensor !== undefined && o.tensor > gpusPerNode
        ? "overrides.tensor"
        : o.data !== undefined && o.data > gpusPerNode
          ? "overrides.data"
          : "gpu";
    throw new PlanInputError([
      {
        field,
        message:
          `no replica size fits ${gpusPerNode}-GPU nodes: it needs at least ` +
          `${Math.max(o.tensor ?? 1, o.data ?? 1, support.minGpusPerReplica ?? 1)} GPUs, a power of two that is ` +
          `at most ${gpusPerNode} or a multiple of it (up to ${MAX_GPUS_PER_REPLICA})`,
      },
    ]);
  }
  const evaluated = sizes.map((n) => bestAt(n, support, o, capCtx, rc)).filter((c): c is Candidate => c !== undefined);
  const chosenIndex = evaluated.findIndex((c) => c.blockers.length === 0);
  // For an infeasible default, report one full node: the most a single-node replica offers.
  const reportIndex =
    chosenIndex >= 0
      ? chosenIndex
      : Math.max(
          0,
          evaluated.findIndex((c) => c.layout.gpus >= gpusPerNode),
        );
  const chosen = evaluated[reportIndex] ?? bestAt(sizes[0]!, support, o, capCtx, rc);
  if (!chosen)
    throw new PlanInputError([
      { field: "overrides", message: `no parallel layout of ${sizes.join(", ")} GPUs satisfies ${JSON.stringify(o)}` },
    ]);
  const { layout: l, capacity: cap } = chosen;
  const feasible = chosenIndex >= 0;
  const nodesPerReplica = o.nodesPerReplica ?? Math.ceil(l.gpus / gpusPerNode);

  const image = support.image ?? engine.images[gpu.vendor];
  const offload = input.offload;
  const invocation = engineInvocation({
    model,
    engine,
    support,
    layout: l,
    capacity: cap,
    kvDtype,
    maxModelLen: input.maxModelLen,
    toolCalling: input.toolCalling ?? false,
    reasoning: input.reasoning,
    offload,
  });
  const notes = planNotes({
    input,
    model,
    gpu,
    engine,
    support,
    layout: l,
    gpusPerNode,
    nodesPerReplica,
    kvDtype,
    indexerDtype,
    image,
  });

  let reason: string;
  if (feasible) {
    const prev = evaluated[chosenIndex - 1];
    let smaller: Alternative | undefined = prev
      ? { layout: prev.layout, capacity: prev.capacity, why: prev.blockers.join("; ") }
      : undefined;
    const below = l.gpus / 2;
    if (
      !fixed &&
      !smaller &&
      below >= 1 &&
      support.minGpusPerReplica !== undefined &&
      l.gpus === support.minGpusPerReplica
    ) {
      const alt = bestAt(below, support, o, capCtx, rc);
      if (alt)
        smaller = {
          ...alt,
          why: `${support.minGpusPerReplica} GPUs is the smallest replica a published recipe runs for ${engine.id} on ${gpu.id}`,
        };
    }
    reason = feasibleReason(rc, l, cap, nodesPerReplica, smaller);
  } else {
    const searched = fixed ? undefined : { from: sizes[0] ?? 1, to: sizes[sizes.length - 1] ?? 1 };
    reason = infeasibleReason(rc, l, chosen.blockers, searched);
  }

  return {
    feasible,
    model: model.id,
    engine: engine.id,
    gpuType: gpu.id,
    gpuResourceName: gpu.resourceName,
    nodeSelector: { [gpu.nodeLabel.key]: gpu.nodeLabel.values[0]! },
    gpusPerReplica: l.gpus,
    nodesPerReplica,
    gpusPerNode,
    parallelMode: l.mode,
    tensorParallel: l.tensor,
    dataParallel: l.data,
    expertParallel: l.expert,
    decodeContextParallel: l.decodeContext,
    maxModelLen: input.maxModelLen,
    kvCacheDtype: kvDtype,
    kvIndexerDtype: indexerDtype,
    kvCacheBytesPerToken: Math.round(rc.kvBytesPerToken),
    kvBytesPerSequence: cap.kvBytesPerSequence,
    weightsBytesPerGpu: cap.weightsBytesPerGpu,
    kvBudgetBytesPerGpu: Math.max(0, cap.kvBudgetBytesPerGpu),
    engineReserveBytesPerGpu: cap.engineReserveBytesPerGpu,
    gpuMemoryBytes: cap.gpuMemoryBytes,
    kvSharding: kvShardingSentence(l, cap, offload?.tier),
    sequencesPerDataParallelRank: cap.sequencesPerDataParallelRank,
    gpuResidentSequences: cap.gpuResidentSequences,
    offloadedSequences: cap.offloadedSequences,
    maxConcurrentSequences: cap.maxConcurrentSequences,
    engineArgs: invocation.args,
    engineEnv: invocation.env,
    image,
    ...(engine.minVersion ? { engineMinVersion: engine.minVersion } : {}),
    ...(offload
      ? { kvOffload: { ...offload, ...(offload.tier === "disk" ? { mountPath: OFFLOAD_MOUNT_PATH } : {}) } }
      : {}),
    support: { status: support.status, source: support.source },
    experimental: notes.experimental,
    warnings: notes.warnings,
    reason,
  };
}
