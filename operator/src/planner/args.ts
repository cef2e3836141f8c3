// Engine command-line flags and environment for a chosen layout (argv style, no shell quoting).
// The renderer adds what depends on the pod: the model path, host, port and multi-node rank flags.
import type { ResolvedSupport } from "./catalog.ts";
import type { OffloadTier, ReasoningMode } from "./input.ts";
import type { EngineProfile, KvDtype, ModelProfile } from "./profiles/types.ts";
import type { Capacity, Layout } from "./types.ts";

/** Where the renderer mounts a disk offload tier inside the engine container. */
export const OFFLOAD_MOUNT_PATH = "/var/cache/kv-offload";

export interface ArgsContext {
  model: ModelProfile;
  engine: EngineProfile;
  support: ResolvedSupport;
  layout: Layout;
  capacity: Capacity;
  kvDtype: KvDtype;
  maxModelLen: number;
  toolCalling: boolean;
  reasoning?: ReasoningMode;
  offload?: { tier: OffloadTier; bytesPerReplica: number };
}

export interface EngineInvocation {
  args: string[];
  env: Record<string, string>;
}

const GiB = 2 ** 30;

function vllm(c: ArgsContext): EngineInvocation {
  const { layout: l, capacity: cap } = c;
  const args = [
    "--tensor-parallel-size",
    String(l.tensor),
    "--data-parallel-size",
    String(l.data),
    ...(l.expert ? ["--enable-expert-parallel"] : []),
    ...(l.decodeContext > 1 ? ["--decode-context-parallel-size", String(l.decodeContext)] : []),
    "--max-model-len",
    String(c.maxModelLen),
    "--kv-cache-dtype",
    c.kvDtype === "fp8" ? "fp8" : "bfloat16",
    "--block-size",
    "256",
    "--trust-remote-code",
    "--tokenizer-mode",
    "deepseek_v4",
    "--gpu-memory-utilization",
    String(c.engine.memoryFraction.value),
    // Per DP engine: vLLM runs one scheduler per data-parallel rank.
    "--max-num-seqs",
    String(Math.max(1, Math.ceil(cap.maxConcurrentSequences / l.data))),
  ];
  if (c.toolCalling) args.push("--tool-call-parser", "deepseek_v4", "--enable-auto-tool-choice");
  if (c.reasoning) args.push("--reasoning-parser", "deepseek_v4");
  const env: Record<string, string> = {};
  if (c.offload) {
    // Each DP engine gets the flag's size; vLLM sums it over that engine's TP ranks.
    const perEngineGiB = Math.max(1, Math.floor(c.offload.bytesPerReplica / l.data / GiB));
    if (c.offload.tier === "cpu") {
      args.push("--kv-offloading-backend", "native", "--kv-offloading-size", String(perEngineGiB));
    } else {
      args.push("--kv-transfer-config", '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}');
      env.LMCACHE_LOCAL_DISK = `file://${OFFLOAD_MOUNT_PATH}/`;
      env.LMCACHE_MAX_LOCAL_DISK_SIZE = String(Math.max(1, Math.floor(c.offload.bytesPerReplica / l.data / 1e9)));
    }
  }
  return { args, env };
}

function sglang(c: ArgsContext): EngineInvocation {
  const { layout: l, capacity: cap } = c;
  const gpus = l.tensor * l.data;
  const args = [
    // SGLang's --tp counts every GPU of the replica; --dp splits attention into that many ranks.
    "--tp",
    String(gpus),
    ...(l.data > 1 ? ["--dp", String(l.data), "--enable-dp-attention"] : []),
    ...(l.expert ? ["--ep-size", String(gpus)] : []),
    ...(l.decodeContext > 1 ? ["--dcp-size", String(l.decodeContext)] : []),
    "--context-length",
    String(c.maxModelLen),
    "--kv-cache-dtype",
    c.kvDtype === "fp8" ? "fp8_e4m3" : "bfloat16",
    "--mem-fraction-static",
    String(c.engine.memoryFraction.value),
    "--max-running-requests",
    String(Math.max(1, cap.maxConcurrentSequences)),
    "--trust-remote-code",
    "--enable-metrics",
  ];
  if (c.toolCalling) args.push("--tool-call-parser", "deepseekv4");
  if (c.reasoning) args.push("--reasoning-parser", "deepseek-v4");
  const env: Record<string, string> = {};
  if (c.offload) {
    args.push("--enable-hierarchical-cache");
    if (c.offload.tier === "cpu") {
      // --hicache-size is per rank, in GB (10^9).
      args.push("--hicache-size", String(Math.max(1, Math.floor(c.offload.bytesPerReplica / gpus / 1e9))));
    } else {
      args.push("--hicache-storage-backend", "file");
      env.SGLANG_HICACHE_FILE_BACKEND_STORAGE_DIR = OFFLOAD_MOUNT_PATH;
    }
  }
  return { args, env };
}

export function engineInvocation(c: ArgsContext): EngineInvocation {
  const base = c.engine.id === "vllm" ? vllm(c) : sglang(c);
  const mode = c.layout.mode;
  return {
    args: [...base.args, ...(c.support.args ?? []), ...(c.support.modeArgs?.[mode] ?? [])],
    env: { ...c.support.env, ...c.support.modeEnv?.[mode], ...base.env },
  };
}
