// Repositories the simulator can present: a DeepSeek-V4-Flash-shaped one (46 safetensors shards, the
// index that maps tensors to them, config.json) at any shard size, and a plain N-file one for benches.
import { createHash } from "node:crypto";
import { safetensorsHeader, type ContentSpec } from "./content.ts";

export type SimFileSpec = { path: string; lfs: boolean; content: ContentSpec };
export type SimRepo = { id: string; revision: string; files: SimFileSpec[] };

export const V4_FLASH_REPO = "deepseek-ai/DeepSeek-V4-Flash";
/** The revision the reference facts pin (model-facts.md §1.3). */
export const V4_FLASH_REVISION = "60d8d70770c6776ff598c94bb586a859a38244f1";
export const V4_FLASH_SHARDS = 46;

/** A 40-hex "commit" derived from a label, for repos that need one. */
export function fakeCommit(label: string): string {
  return createHash("sha1").update(label).digest("hex");
}

function json(value: unknown): ContentSpec {
  return { kind: "inline", bytes: Buffer.from(JSON.stringify(value, null, 2) + "\n") };
}

export function shardName(i: number, n: number): string {
  return `model-${String(i).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;
}

/** The tensor a simulated shard holds: embeddings first, one routed layer per shard, the MTP layer last. */
function shardTensor(i: number, n: number): string {
  if (i === 1) return "embed.weight";
  if (i === n) return "mtp.0.ffn.experts.weight";
  if (i === n - 1) return "head.weight";
  return `layers.${i - 2}.ffn.experts.weight`;
}

function generated(size: number, tensor: string | undefined): ContentSpec {
  const prefix = tensor ? (safetensorsHeader(size, tensor) ?? Buffer.alloc(0)) : Buffer.alloc(0);
  return { kind: "generated", size, prefix };
}

/** config.json values of the April release (model-facts.md §1.2), enough for tools that read it. */
const V4_FLASH_CONFIG = {
  architectures: ["DeepseekV4ForCausalLM"],
  model_type: "deepseek_v4",
  torch_dtype: "bfloat16",
  hidden_size: 4096,
  num_hidden_layers: 43,
  num_nextn_predict_layers: 1,
  vocab_size: 129280,
  num_attention_heads: 64,
  num_key_value_heads: 1,
  head_dim: 512,
  qk_rope_head_dim: 64,
  q_lora_rank: 1024,
  o_lora_rank: 1024,
  o_groups: 8,
  sliding_window: 128,
  index_n_heads: 64,
  index_head_dim: 128,
  index_topk: 512,
  n_routed_experts: 256,
  n_shared_experts: 1,
  num_experts_per_tok: 6,
  moe_intermediate_size: 2048,
  max_position_embeddings: 1048576,
  quantization_config: {
    activation_scheme: "dynamic",
    fmt: "e4m3",
    quant_method: "fp8",
    scale_fmt: "ue8m0",
    weight_block_size: [128, 128],
  },
};

/** 46 shards of `shardSize` bytes + model.safetensors.index.json + config.json (+ a tokenizer config). */
export function v4FlashShapedRepo(opts: {
  shardSize: number;
  shards?: number;
  id?: string;
  revision?: string;
}): SimRepo {
  const n = opts.shards ?? V4_FLASH_SHARDS;
  const files: SimFileSpec[] = [];
  const weightMap: Record<string, string> = {};
  for (let i = 1; i <= n; i++) {
    const name = shardName(i, n);
    const tensor = shardTensor(i, n);
    weightMap[tensor] = name;
    files.push({ path: name, lfs: true, content: generated(opts.shardSize, tensor) });
  }
  files.push({
    path: "model.safetensors.index.json",
    lfs: false,
    content: json({ metadata: { total_size: n * opts.shardSize }, weight_map: weightMap }),
  });
  files.push({ path: "config.json", lfs: false, content: json(V4_FLASH_CONFIG) });
  files.push({
    path: "tokenizer_config.json",
    lfs: false,
    content: json({ model_max_length: 1048576, tokenizer_class: "LlamaTokenizerFast" }),
  });
  return { id: opts.id ?? V4_FLASH_REPO, revision: opts.revision ?? V4_FLASH_REVISION, files };
}

/** `files` LFS files of `fileSize` bytes each (`weights-0000N.safetensors`), nothing else. */
export function uniformRepo(opts: { files: number; fileSize: number; id?: string; revision?: string }): SimRepo {
  const files: SimFileSpec[] = [];
  for (let i = 1; i <= opts.files; i++) {
    files.push({ path: shardName(i, opts.files), lfs: true, content: generated(opts.fileSize, `weights.${i}`) });
  }
  const id = opts.id ?? "bench/uniform";
  return { id, revision: opts.revision ?? fakeCommit(`${id}:${opts.files}x${opts.fileSize}`), files };
}
