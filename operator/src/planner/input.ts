// The planner's input and its validation. Problems are reported per field (a PlanInput path) so
// the API adapter and the CLI can point at the spec field or flag that caused them.
import { UnknownProfileError, resolveGpu, resolveModel } from "./catalog.ts";
import { ENGINES } from "./profiles/types.ts";
import type { Engine } from "./profiles/types.ts";

export type KvCacheDtypeInput = "auto" | "fp8" | "bf16";
export type OffloadTier = "cpu" | "disk";
export type ReasoningMode = "standard" | "flash-max";

export interface PlanOverrides {
  gpusPerReplica?: number;
  tensor?: number;
  data?: number;
  expert?: boolean;
  nodesPerReplica?: number;
  decodeContext?: number;
}

export interface PlanInput {
  /** Hugging Face repo id, e.g. "deepseek-ai/DeepSeek-V4-Flash". */
  model: string;
  /** "H100" | "H200" | "B200" | "B300" | "GB200" | "MI300X" | "MI355X" (case-insensitive; aliases and node-label values work too). */
  gpu: string;
  /** GPUs per node; defaults to the GPU's usual node size (8; 4 for a GB200 tray). */
  gpusPerNode?: number;
  engine: Engine;
  /** 1 .. the model's max_position_embeddings (1,048,576). */
  maxModelLen: number;
  /** Concurrent sequences of maxModelLen tokens one replica must hold. */
  concurrency: number;
  kvCacheDtype: KvCacheDtypeInput;
  offload?: { tier: OffloadTier; bytesPerReplica: number };
  reasoning?: ReasoningMode;
  toolCalling?: boolean;
  overrides?: PlanOverrides;
}

export interface InputProblem {
  field: string;
  message: string;
}

export class PlanInputError extends Error {
  readonly problems: readonly InputProblem[];
  constructor(problems: readonly InputProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join("; "));
    this.name = "PlanInputError";
    this.problems = problems;
  }
}

export const MAX_GPUS_PER_REPLICA = 64;
const isPow2 = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
const isInt = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n);

function unknownName(field: string, fn: () => unknown): InputProblem[] {
  try {
    fn();
    return [];
  } catch (err) {
    if (err instanceof UnknownProfileError) return [{ field, message: err.message }];
    throw err;
  }
}

function checkOverrides(o: PlanOverrides, gpusPerNode: number | undefined): InputProblem[] {
  const out: InputProblem[] = [];
  for (const f of ["gpusPerReplica", "tensor", "data", "decodeContext"] as const) {
    const v = o[f];
    if (v !== undefined && (!isPow2(v) || v > MAX_GPUS_PER_REPLICA))
      out.push({
        field: `overrides.${f}`,
        message: `must be a power of two from 1 to ${MAX_GPUS_PER_REPLICA}, got ${v}`,
      });
  }
  if (
    o.nodesPerReplica !== undefined &&
    (!isInt(o.nodesPerReplica) || o.nodesPerReplica < 1 || o.nodesPerReplica > MAX_GPUS_PER_REPLICA)
  ) {
    out.push({
      field: "overrides.nodesPerReplica",
      message: `must be an integer from 1 to ${MAX_GPUS_PER_REPLICA}, got ${o.nodesPerReplica}`,
    });
  }
  if (out.length > 0) return out;
  const { gpusPerReplica: n, tensor: t, data: d, decodeContext: dcp, nodesPerReplica: nodes } = o;
  // The replica size the overrides pin down, if they do: the planner searches sizes otherwise.
  const total =
    n ??
    (t !== undefined && d !== undefined
      ? t * d
      : nodes !== undefined && gpusPerNode !== undefined
        ? nodes * gpusPerNode
        : undefined);
  const name =
    n !== undefined
      ? `gpusPerReplica (${n})`
      : t !== undefined && d !== undefined
        ? `tensor × data (${total})`
        : `nodesPerReplica × gpusPerNode (${total})`;
  if (total !== undefined) {
    if (total > MAX_GPUS_PER_REPLICA) {
      out.push({
        field:
          n !== undefined
            ? "overrides.gpusPerReplica"
            : t !== undefined && d !== undefined
              ? "overrides.tensor"
              : "overrides.nodesPerReplica",
        message: `a replica of ${total} GPUs exceeds the ${MAX_GPUS_PER_REPLICA} the planner supports`,
      });
    } else if (t !== undefined && d !== undefined && t * d !== total) {
      out.push({ field: "overrides.tensor", message: `tensor (${t}) × data (${d}) = ${t * d} must equal ${name}` });
    } else if (t !== undefined && total % t !== 0) {
      out.push({ field: "overrides.tensor", message: `tensor (${t}) must divide ${name}` });
    } else if (d !== undefined && total % d !== 0) {
      out.push({ field: "overrides.data", message: `data (${d}) must divide ${name}` });
    }
    if (nodes !== undefined && gpusPerNode !== undefined && (total % nodes !== 0 || total / nodes > gpusPerNode)) {
      out.push({
        field: "overrides.nodesPerReplica",
        message: `${total} GPUs cannot be spread evenly over ${nodes} node(s) of ${gpusPerNode} GPUs`,
      });
    } else if (nodes === undefined && gpusPerNode !== undefined && total > gpusPerNode && total % gpusPerNode !== 0) {
      out.push({
        field: n !== undefined ? "overrides.gpusPerReplica" : "overrides.tensor",
        message: `${total} GPUs do not fill whole nodes of ${gpusPerNode}; set overrides.nodesPerReplica`,
      });
    }
  }
  if (dcp !== undefined && dcp > 1) {
    if (t === undefined)
      out.push({ field: "overrides.decodeContext", message: "needs overrides.tensor set to a multiple of it" });
    else if (t % dcp !== 0)
      out.push({ field: "overrides.decodeContext", message: `must divide tensor (${t}), got ${dcp}` });
  }
  return out;
}

/** Every problem with the input, or [] when plan() can run. */
export function checkPlanInput(input: PlanInput): InputProblem[] {
  const out: InputProblem[] = [];
  out.push(...unknownName("model", () => resolveModel(String(input.model))));
  out.push(...unknownName("gpu", () => resolveGpu(String(input.gpu))));
  if (!ENGINES.includes(input.engine))
    out.push({ field: "engine", message: `unknown engine "${input.engine}"; known: ${ENGINES.join(", ")}` });
  if (
    input.gpusPerNode !== undefined &&
    (!isInt(input.gpusPerNode) || input.gpusPerNode < 1 || input.gpusPerNode > 64)
  ) {
    out.push({ field: "gpusPerNode", message: `must be an integer from 1 to 64, got ${input.gpusPerNode}` });
  }
  const maxLen = safe(() => resolveModel(String(input.model)).architecture.maxPositionEmbeddings) ?? 1_048_576;
  if (!isInt(input.maxModelLen) || input.maxModelLen < 1 || input.maxModelLen > maxLen) {
    out.push({ field: "maxModelLen", message: `must be an integer from 1 to ${maxLen}, got ${input.maxModelLen}` });
  }
  if (!isInt(input.concurrency) || input.concurrency < 1 || input.concurrency > 1_000_000) {
    out.push({ field: "concurrency", message: `must be an integer from 1 to 1000000, got ${input.concurrency}` });
  }
  if (!["auto", "fp8", "bf16"].includes(input.kvCacheDtype))
    out.push({ field: "kvCacheDtype", message: `must be auto, fp8 or bf16, got "${input.kvCacheDtype}"` });
  if (input.offload) {
    if (!["cpu", "disk"].includes(input.offload.tier))
      out.push({ field: "offload.tier", message: `must be cpu or disk, got "${input.offload.tier}"` });
    if (!isInt(input.offload.bytesPerReplica) || input.offload.bytesPerReplica < 1) {
      out.push({
        field: "offload.bytesPerReplica",
        message: `must be a positive number of bytes, got ${input.offload.bytesPerReplica}`,
      });
    }
  }
  if (input.reasoning !== undefined && !["standard", "flash-max"].includes(input.reasoning)) {
    out.push({ field: "reasoning", message: `must be standard or flash-max, got "${input.reasoning}"` });
  }
  const gpusPerNode = input.gpusPerNode ?? safe(() => resolveGpu(String(input.gpu)).defaultGpusPerNode);
  if (input.overrides) out.push(...checkOverrides(input.overrides, gpusPerNode));
  return out;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
