// Warnings and the "experimental" marks: everything about a plan that no source confirms, or that
// the operator of the cluster should know before applying it.
import type { ResolvedSupport } from "./catalog.ts";
import type { PlanInput } from "./input.ts";
import type { EngineProfile, GpuProfile, IndexerDtype, KvDtype, ModelProfile } from "./profiles/types.ts";
import type { Layout } from "./types.ts";
import { count } from "./units.ts";

export interface Notes {
  warnings: string[];
  experimental: string[];
}

export interface NotesContext {
  input: PlanInput;
  model: ModelProfile;
  gpu: GpuProfile;
  engine: EngineProfile;
  support: ResolvedSupport;
  layout: Layout;
  gpusPerNode: number;
  nodesPerReplica: number;
  kvDtype: KvDtype;
  indexerDtype: IndexerDtype;
  image: string;
}

export function planNotes(c: NotesContext): Notes {
  const warnings: string[] = [];
  const experimental: string[] = [];
  const mark = (key: string, text: string) => {
    experimental.push(key);
    warnings.push(`experimental: ${text}`);
  };
  const { engine, gpu, model, support, layout: l } = c;
  const where = `${model.id} on ${gpu.id} with ${engine.id}`;

  if (support.status === "experimental") mark("engine-gpu-model", `${support.source}`);
  if (support.status === "validated" && support.note) warnings.push(support.note);
  if (support.status !== "unsupported") {
    if (support.minGpusPerReplica !== undefined && l.gpus < support.minGpusPerReplica) {
      mark(
        "replica-size",
        `${l.gpus} GPUs is below the smallest published replica (${support.minGpusPerReplica}) for ${where}`,
      );
    }
    if (support.modes.length > 0 && !support.modes.includes(l.mode) && !support.refusedModes?.[l.mode]) {
      mark(
        "parallel-mode",
        `${l.mode === "tp" ? "tensor parallelism" : "data-parallel attention"} is not in a published recipe for ${where}`,
      );
    }
  }
  if (l.decodeContext > 1)
    mark(
      "decode-context-parallel",
      `decode context parallelism is not confirmed for DeepSeek-V4 in ${engine.id} (no recipe or issue uses it)`,
    );
  if (c.input.offload) {
    mark(
      "kv-offload",
      `no source confirms ${c.input.offload.tier} KV offload for DeepSeek-V4's compressed cache in ${engine.id}; ` +
        `offloaded sequences are swapped back to GPU memory to decode`,
    );
  }
  if (c.kvDtype === "bf16")
    mark("kv-cache-dtype", "the published recipes run DeepSeek-V4-Flash with an fp8 KV cache only");
  if (model.kv.estimatedIndexerDtypes.includes(c.indexerDtype)) {
    warnings.push(
      `KV size uses an estimated ${c.indexerDtype} indexer entry (${model.kv.indexerEntryBytes[c.indexerDtype]} B); no source states it`,
    );
  }
  if (model.weights.estimate) warnings.push(`weight bytes are an estimate: ${model.weights.source}`);
  if (gpu.memory.estimate) warnings.push(`${gpu.id} memory is an estimate: ${gpu.memory.source}`);

  const cal = model.calibration[engine.id];
  if (cal.estimate)
    warnings.push(`${engine.id} KV sizing is theoretical (${cal.source}); check the engine's startup log`);
  const range = cal.measuredContextRange;
  if (range && (c.input.maxModelLen < range[0] || c.input.maxModelLen > range[1])) {
    warnings.push(
      `the ${count(cal.fixedBytesPerSequence / 1e9)} GB per-request KV reservation of ${engine.id} was measured ` +
        `at max-model-len ${count(range[0])}-${count(range[1])}; at ${count(c.input.maxModelLen)} it is extrapolated`,
    );
  }
  if (engine.id === "vllm" && l.data > 1 && !l.expert) {
    warnings.push("vLLM without expert parallelism replicates the routed experts on every data-parallel rank");
  }
  if (c.nodesPerReplica > 1) {
    warnings.push(
      `a replica spans ${c.nodesPerReplica} nodes: each node's pod needs its rank flags (vLLM ` +
        `--data-parallel-size-local/--data-parallel-start-rank/--data-parallel-address; SGLang --nnodes/--node-rank/--dist-init-addr)`,
    );
    if (l.tensor > c.gpusPerNode)
      warnings.push(
        `tensor parallelism (${l.tensor}) crosses nodes of ${c.gpusPerNode} GPUs; every layer then waits on the network`,
      );
  }
  if (!model.chat && (c.input.toolCalling || c.input.reasoning)) {
    warnings.push(`${model.id} is a base model, not chat-tuned; tool-call and reasoning parsers will rarely fire`);
  }
  if (/:(latest|nightly)$/.test(c.image))
    warnings.push(`default image ${c.image} is not pinned; set the image to a fixed tag for reproducible rollouts`);
  return { warnings, experimental };
}
