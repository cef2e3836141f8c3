// Readable sentences with the numbers: why a layout cannot work (blockers), how the KV cache is
// spread, and the paragraph that explains the chosen plan.
import type { ResolvedSupport } from "./catalog.ts";
import type { PlanInput } from "./input.ts";
import type { EngineProfile, GpuProfile, IndexerDtype, KvDtype, ModelProfile } from "./profiles/types.ts";
import type { Capacity, Layout } from "./types.ts";
import { count, gib } from "./units.ts";

export interface ReasonContext {
  input: PlanInput;
  model: ModelProfile;
  gpu: GpuProfile;
  engine: EngineProfile;
  support: ResolvedSupport;
  kvDtype: KvDtype;
  indexerDtype: IndexerDtype;
  kvBytesPerToken: number;
}

export const layoutName = (l: Layout): string => {
  const parts =
    l.data > 1
      ? [`DP${l.data} data-parallel attention`, ...(l.tensor > 1 ? [`TP${l.tensor}`] : [])]
      : [`TP${l.tensor}`];
  if (l.expert) parts.push(`expert parallelism over ${l.gpus} GPUs`);
  if (l.decodeContext > 1) parts.push(`DCP${l.decodeContext}`);
  return parts.join(" + ");
};

/** What rules out every layout: the engine cannot serve this checkpoint here, or the input contradicts the model. */
export function globalBlockers(c: ReasonContext): string[] {
  const out: string[] = [];
  const { engine, gpu, model, support, input } = c;
  if (support.status === "unsupported") {
    out.push(
      `${engine.id} does not serve ${model.id} on ${gpu.id} (${support.source})${support.instead ? `; use ${support.instead}` : ""}`,
    );
  }
  const minCtx = model.architecture.flashMaxMinContext;
  if (input.reasoning === "flash-max" && input.maxModelLen < minCtx) {
    out.push(`Flash-Max reasoning needs maxModelLen ≥ ${count(minCtx)} tokens, got ${count(input.maxModelLen)}`);
  }
  return out;
}

/** Everything that makes one layout undeployable, each with the numbers behind it. */
export function blockers(c: ReasonContext, l: Layout, cap: Capacity): string[] {
  const { engine, gpu, support, input } = c;
  const out = globalBlockers(c);
  const refused = support.refusedModes?.[l.mode];
  if (refused)
    out.push(`${l.mode === "tp" ? "tensor parallelism" : "data-parallel attention"} does not work here: ${refused}`);
  const perGpuSeq = cap.kvBytesPerSequence / l.decodeContext;
  if (cap.kvBudgetBytesPerGpu <= 0) {
    out.push(
      `the weights need ${gib(cap.weightsBytesPerGpu)} per GPU and ${engine.id} reserves ${gib(cap.engineReserveBytesPerGpu)}, ` +
        `${gib(cap.weightsBytesPerGpu + cap.engineReserveBytesPerGpu)} in all, more than the ${gib(cap.gpuMemoryBytes)} of one ${gpu.id}`,
    );
  } else if (cap.sequencesPerDataParallelRank < 1) {
    out.push(
      `one ${count(input.maxModelLen)}-token sequence needs ${gib(perGpuSeq)} of KV cache per GPU, but only ${gib(cap.kvBudgetBytesPerGpu)} of the ` +
        `${gib(cap.gpuMemoryBytes)} is left after ${gib(cap.weightsBytesPerGpu)} of weights and ${gib(cap.engineReserveBytesPerGpu)} of engine reserve`,
    );
  } else if (cap.maxConcurrentSequences < input.concurrency) {
    const offloaded = cap.offloadedSequences > 0 ? ` + ${count(cap.offloadedSequences)} offloaded` : "";
    out.push(
      `${l.gpus} × ${gpu.id} (${layoutName(l)}) hold ${count(cap.maxConcurrentSequences)} sequences of ${count(input.maxModelLen)} tokens ` +
        `(${count(cap.sequencesPerDataParallelRank)} per data-parallel rank × ${l.data}${offloaded}), fewer than the ${count(input.concurrency)} requested: ` +
        `each needs ${gib(perGpuSeq)} per GPU and ${gib(cap.kvBudgetBytesPerGpu)} per GPU is left for KV`,
    );
  }
  return out;
}

export function kvShardingSentence(l: Layout, cap: Capacity, offloadTier?: string): string {
  let s: string;
  if (l.data > 1) {
    s =
      `By sequence across ${l.data} data-parallel attention ranks: each rank keeps only its own sequences' KV ` +
      `(${count(cap.sequencesPerDataParallelRank)} per rank)`;
    if (l.tensor > 1) s += `, replicated on the ${l.tensor} tensor-parallel GPUs of the rank`;
  } else if (l.tensor > 1) {
    s =
      `Replicated on each of the ${l.tensor} tensor-parallel ranks (one KV head cannot be split by TP): every ` +
      `GPU holds all ${count(cap.sequencesPerDataParallelRank)} sequences`;
  } else {
    s = `On the replica's single GPU (${count(cap.sequencesPerDataParallelRank)} sequences)`;
  }
  if (l.decodeContext > 1)
    s += `; decode context parallelism splits each sequence over ${l.decodeContext} of those ranks`;
  s += ".";
  if (cap.offloadedSequences > 0 && offloadTier)
    s += ` ${count(cap.offloadedSequences)} more sequences spill to the ${offloadTier} offload tier.`;
  return s;
}

function weightsSentence(c: ReasonContext, l: Layout, cap: Capacity): string {
  const routed = c.model.weights.routedExpertBytes;
  const rest = c.model.weights.totalBytes - routed;
  const shards = l.expert || c.engine.moeSpansDataParallel ? l.tensor * l.data : l.tensor;
  const restWhere =
    l.data > 1
      ? `${l.tensor > 1 ? `split by TP${l.tensor} and ` : ""}replicated on each of the ${l.data} data-parallel ranks`
      : `split by TP${l.tensor}`;
  return (
    `Weights ${gib(c.model.weights.totalBytes)}: routed experts ${gib(routed)} split over ${shards} GPU${shards > 1 ? "s" : ""}, ` +
    `other weights ${gib(rest)} ${restWhere} → ${gib(cap.weightsBytesPerGpu)} per GPU.`
  );
}

function kvSentence(c: ReasonContext, cap: Capacity): string {
  const cal = c.model.calibration[c.engine.id];
  const theory =
    `${count(Math.round(c.kvBytesPerToken))} B/token (${c.kvDtype} KV, ${c.indexerDtype} indexer) → ` +
    `${gib(cap.kvTheoryBytesPerSequence)} per ${count(c.input.maxModelLen)}-token sequence in theory`;
  if (cal.fixedBytesPerSequence === 0 && cal.scale === 1)
    return `KV cache: ${theory}, which ${c.engine.id} is assumed to reserve as is.`;
  const scale = cal.scale !== 1 ? ` × ${cal.scale}` : "";
  return (
    `KV cache: ${theory}; ${c.engine.id} reserves ${gib(cap.kvBytesPerSequence)} (theory${scale} + ` +
    `${count(cal.fixedBytesPerSequence / 1e9)} GB fixed per request, as measured).`
  );
}

export interface Alternative {
  layout: Layout;
  capacity: Capacity;
  why: string;
}

export function feasibleReason(
  c: ReasonContext,
  l: Layout,
  cap: Capacity,
  nodes: number,
  smaller?: Alternative,
): string {
  const reserveFlag = c.engine.id === "vllm" ? "--gpu-memory-utilization" : "--mem-fraction-static";
  const act =
    c.engine.activationReserve.bytes > 0 ? ` plus ${gib(c.engine.activationReserve.bytes)} for activations` : "";
  const offloaded =
    cap.offloadedSequences > 0 ? ` + ${count(cap.offloadedSequences)} in the ${c.input.offload?.tier} tier` : "";
  const parts = [
    `${l.gpus} × ${c.gpu.id} (${nodes} node${nodes > 1 ? "s" : ""}) with ${layoutName(l)} on ${c.engine.id} (${c.support.status}: ${c.support.source}).`,
    weightsSentence(c, l, cap),
    `${c.engine.id} keeps ${gib(cap.engineReserveBytesPerGpu)} per GPU outside its pools (${reserveFlag} ` +
      `${c.engine.memoryFraction.value}${act}), leaving ${gib(cap.kvBudgetBytesPerGpu)} of ${gib(cap.gpuMemoryBytes)} for KV.`,
    kvSentence(c, cap),
    `${kvShardingSentence(l, cap)} The replica holds ${count(cap.gpuResidentSequences)} sequences on ` +
      `GPU${offloaded} ≥ ${count(c.input.concurrency)} requested.`,
  ];
  if (smaller) parts.push(`Fewer GPUs (${smaller.layout.gpus}) would not do: ${smaller.why}.`);
  return parts.join(" ");
}

export function infeasibleReason(
  c: ReasonContext,
  l: Layout,
  reasons: string[],
  searched?: { from: number; to: number },
): string {
  const global = globalBlockers(c);
  if (global.length > 0) return `Infeasible: ${global.join("; ")}.`;
  const head = searched
    ? `No replica of ${searched.from} to ${searched.to} ${c.gpu.id} GPUs serves ${count(c.input.concurrency)} ` +
      `sequences of ${count(c.input.maxModelLen)} tokens with ${c.engine.id}. At ${l.gpus} GPUs (${layoutName(l)}): `
    : `${l.gpus} × ${c.gpu.id} with ${layoutName(l)} cannot serve ${count(c.input.concurrency)} sequences of ` +
      `${count(c.input.maxModelLen)} tokens with ${c.engine.id}: `;
  const dpUntried =
    l.mode === "tp" &&
    l.tensor > 1 &&
    !c.support.modes.includes("dp-attention") &&
    !c.support.refusedModes?.["dp-attention"];
  const hint = dpUntried
    ? ` Tensor parallelism copies every sequence's KV to each GPU; a data-parallel override (parallelism.data) ` +
      `would split sequences across GPUs, but no published recipe confirms it for ${c.engine.id} on ${c.gpu.id}.`
    : "";
  return `${head}${reasons.join("; ")}.${hint}`;
}
