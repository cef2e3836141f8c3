// `deepseek-operator plan`: run the capacity planner from flags or a DeepSeekDeployment file and
// print the plan as a table or JSON. Exit 0 feasible, 1 infeasible, 2 bad flags or file.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { KIND, parseDeepSeekDeployment, parseQuantity, parseSpec, type DeepSeekDeploymentSpec } from "../api/index.ts";
import {
  DEFAULT_MODEL_ID,
  plan,
  PlanInputError,
  type Plan,
  type PlanInput,
  type PlanOverrides,
} from "../planner/index.ts";
import { planInputFromSpec } from "../reconcile/plan-input.ts";
import { CliError } from "./errors.ts";

const USAGE = `usage: deepseek-operator plan [flags]
       deepseek-operator plan -f deployment.yaml [flags that override the file]

  --model <repo>              Hugging Face repo id (default ${DEFAULT_MODEL_ID})
  --gpu <type>                H100 | H200 | B200 | B300 | GB200 | MI300X | MI355X (default H200)
  --gpus-per-node <n>         GPUs per node (default: the GPU's usual node, 8; 4 for GB200)
  --engine <vllm|sglang>      serving engine (default vllm)
  --max-model-len <tokens>    longest sequence, 1..1048576 (default 1048576)
  --concurrency <n>           sequences of max-model-len one replica must hold (default 4)
  --kv-cache-dtype <d>        auto | fp8 | bf16 (default auto = fp8)
  --offload-tier <cpu|disk>   spill KV that does not fit in GPU memory
  --offload-size <quantity>   offload capacity per replica, e.g. 512Gi
  --reasoning <mode>          standard | flash-max | none (default standard)
  --[no-]tool-calling         tool-call parser (default on)
  --gpus-per-replica <n>      override: GPUs per replica (power of two)
  --tensor <n> --data <n>     override: tensor / data-parallel sizes (tensor × data = GPUs per replica)
  --[no-]expert               override: expert parallelism
  --decode-context <n>        override: decode context parallelism (experimental)
  --nodes-per-replica <n>     override: nodes one replica spans
  -f, --file <path>           read a DeepSeekDeployment (or a bare spec) from YAML
  -o, --output <table|json>   output format (default table)
`;

const OPTIONS = {
  model: { type: "string" },
  gpu: { type: "string" },
  "gpus-per-node": { type: "string" },
  engine: { type: "string" },
  "max-model-len": { type: "string" },
  concurrency: { type: "string" },
  "kv-cache-dtype": { type: "string" },
  "offload-tier": { type: "string" },
  "offload-size": { type: "string" },
  reasoning: { type: "string" },
  "tool-calling": { type: "boolean" },
  "gpus-per-replica": { type: "string" },
  tensor: { type: "string" },
  data: { type: "string" },
  expert: { type: "boolean" },
  "decode-context": { type: "string" },
  "nodes-per-replica": { type: "string" },
  file: { type: "string", short: "f" },
  output: { type: "string", short: "o" },
  help: { type: "boolean", short: "h" },
} as const;

/** PlanInput field → the flag that sets it, so input errors name what the user typed. */
const FLAG_OF: Record<string, string> = {
  model: "--model",
  gpu: "--gpu",
  gpusPerNode: "--gpus-per-node",
  engine: "--engine",
  maxModelLen: "--max-model-len",
  concurrency: "--concurrency",
  kvCacheDtype: "--kv-cache-dtype",
  "offload.tier": "--offload-tier",
  "offload.bytesPerReplica": "--offload-size",
  reasoning: "--reasoning",
  "overrides.gpusPerReplica": "--gpus-per-replica",
  "overrides.tensor": "--tensor",
  "overrides.data": "--data",
  "overrides.decodeContext": "--decode-context",
  "overrides.nodesPerReplica": "--nodes-per-replica",
};

/** The same fields in a DeepSeekDeployment spec, for errors about a file. */
const SPEC_FIELD_OF: Record<string, string> = {
  model: "spec.model.name",
  gpu: "spec.gpu.type",
  gpusPerNode: "spec.gpu.perNode",
  engine: "spec.engine.type",
  maxModelLen: "spec.context.maxModelLen",
  concurrency: "spec.context.targetConcurrency",
  kvCacheDtype: "spec.context.kvCacheDtype",
  "offload.tier": "spec.context.offload.tier",
  "offload.bytesPerReplica": "spec.context.offload.size",
  "overrides.gpusPerReplica": "spec.gpu.count",
  "overrides.tensor": "spec.parallelism.tensor",
  "overrides.data": "spec.parallelism.data",
  "overrides.decodeContext": "spec.parallelism.decodeContext",
  "overrides.nodesPerReplica": "spec.parallelism.nodesPerReplica",
};

// Not `instanceof Error`: errors from node:fs come from another realm under jest's VM modules.
const messageOf = (err: unknown): string =>
  typeof err === "object" && err !== null && typeof (err as { message?: unknown }).message === "string"
    ? (err as { message: string }).message
    : String(err);

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "boolean" ? boolean : string };

function int(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]+$/.test(raw.trim())) throw new CliError(`--${flag}: "${raw}" is not a whole number`);
  return Number(raw);
}

function oneOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim().toLowerCase() as T;
  if (!allowed.includes(v)) throw new CliError(`--${flag}: "${raw}" is not one of ${allowed.join(", ")}`);
  return v;
}

/** A DeepSeekDeployment spec mapped onto the planner's input, field by field. */
async function readSpecFile(path: string): Promise<DeepSeekDeploymentSpec> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`-f ${path}: ${messageOf(err)}`);
  }
  const parsedDocs = parseAllDocuments(text);
  const docs = Array.isArray(parsedDocs) ? parsedDocs : [];
  const yamlErr = docs.flatMap((d) => d.errors)[0];
  if (yamlErr || docs.length === 0) throw new CliError(`-f ${path}: ${yamlErr ? yamlErr.message : "no YAML document"}`);
  const objects = docs.map((d) => d.toJS() as unknown);
  const resource = objects.find((o) => (o as { kind?: unknown } | null)?.kind === KIND);
  const parsed =
    resource !== undefined
      ? parseDeepSeekDeployment(resource)
      : parseSpec((objects[0] as { spec?: unknown } | null)?.spec ?? objects[0]);
  if (!parsed.ok) throw new CliError(`-f ${path}: ${parsed.errors.map((e) => e.message).join("; ")}`);
  return "spec" in parsed.value ? parsed.value.spec : parsed.value;
}

async function buildInput(v: Values): Promise<{ input: PlanInput; fromFile: boolean }> {
  const file = v.file ? planInputFromSpec(await readSpecFile(v.file)) : undefined;
  const engine = oneOf("engine", v.engine, ["vllm", "sglang"] as const);
  const kvCacheDtype = oneOf("kv-cache-dtype", v["kv-cache-dtype"], ["auto", "fp8", "bf16"] as const);
  const reasoning = oneOf("reasoning", v.reasoning, ["standard", "flash-max", "none"] as const);
  const tier = oneOf("offload-tier", v["offload-tier"], ["cpu", "disk"] as const);
  let offloadBytes: number | undefined;
  if (v["offload-size"] !== undefined) {
    try {
      offloadBytes = parseQuantity(v["offload-size"]);
    } catch (err) {
      throw new CliError(`--offload-size: ${messageOf(err)}`);
    }
  }
  if ((tier === undefined) !== (offloadBytes === undefined) && !file?.offload) {
    throw new CliError(
      tier === undefined ? "--offload-size needs --offload-tier" : "--offload-tier needs --offload-size",
    );
  }
  const flagOverrides: PlanOverrides = {};
  const n = (k: keyof PlanOverrides, flag: keyof Values) => {
    const x = int(flag, v[flag] as string | undefined);
    if (x !== undefined) (flagOverrides as Record<string, unknown>)[k] = x;
  };
  n("gpusPerReplica", "gpus-per-replica");
  n("tensor", "tensor");
  n("data", "data");
  n("decodeContext", "decode-context");
  n("nodesPerReplica", "nodes-per-replica");
  if (v.expert !== undefined) flagOverrides.expert = v.expert;

  const base: PlanInput = file ?? {
    model: DEFAULT_MODEL_ID,
    gpu: "H200",
    engine: "vllm",
    maxModelLen: 1_048_576,
    concurrency: 4,
    kvCacheDtype: "auto",
    reasoning: "standard",
    toolCalling: true,
  };
  const offload =
    tier !== undefined || offloadBytes !== undefined
      ? { tier: tier ?? base.offload!.tier, bytesPerReplica: offloadBytes ?? base.offload!.bytesPerReplica }
      : base.offload;
  const overrides = { ...base.overrides, ...flagOverrides };
  const input: PlanInput = {
    ...base,
    ...(v.model !== undefined ? { model: v.model } : {}),
    ...(v.gpu !== undefined ? { gpu: v.gpu } : {}),
    ...(v["gpus-per-node"] !== undefined ? { gpusPerNode: int("gpus-per-node", v["gpus-per-node"]) } : {}),
    ...(engine ? { engine } : {}),
    ...(v["max-model-len"] !== undefined ? { maxModelLen: int("max-model-len", v["max-model-len"])! } : {}),
    ...(v.concurrency !== undefined ? { concurrency: int("concurrency", v.concurrency)! } : {}),
    ...(kvCacheDtype ? { kvCacheDtype } : {}),
    ...(v["tool-calling"] !== undefined ? { toolCalling: v["tool-calling"] } : {}),
    ...(offload ? { offload } : {}),
    ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
  };
  if (reasoning === "none") delete input.reasoning;
  else if (reasoning) input.reasoning = reasoning;
  return { input, fromFile: file !== undefined };
}

const GiB = 2 ** 30;
const gib = (b: number) => (b / GiB).toFixed(2);
const num = (n: number) => n.toLocaleString("en-US");

/** Flag/value pairs one per line, values quoted for a POSIX shell when they need it. */
function formatArgs(args: readonly string[]): string[] {
  const q = (s: string) => (/^[A-Za-z0-9_./=:,+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  const lines: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (a.startsWith("--") && next !== undefined && !next.startsWith("--")) {
      lines.push(`${a} ${q(next)}`);
      i++;
    } else lines.push(q(a));
  }
  return lines;
}

function wrap(text: string, indent = "  ", hanging = indent, width = 100): string {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      out.push((out.length === 0 ? indent : hanging) + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push((out.length === 0 ? indent : hanging) + line);
  return out.join("\n");
}

export function formatTable(p: Plan): string {
  const row = (k: string, v: string) => `  ${k.padEnd(18)}${v}`;
  const sel = Object.entries(p.nodeSelector)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const offloaded = p.offloadedSequences > 0 ? ` + ${num(p.offloadedSequences)} offloaded (${p.kvOffload?.tier})` : "";
  const lines = [
    `Plan: ${p.feasible ? "FEASIBLE" : "INFEASIBLE"}`,
    row("model", p.model),
    row("engine", `${p.engine} (${p.support.status}) image ${p.image}`),
    row(
      "GPUs per replica",
      `${p.gpusPerReplica} × ${p.gpuType} on ${p.nodesPerReplica} node(s) of ${p.gpusPerNode} [${p.gpuResourceName}; ${sel}]`,
    ),
    row(
      "parallelism",
      `TP${p.tensorParallel} × DP${p.dataParallel}, expert parallel ${p.expertParallel ? "on" : "off"}, decode context ${p.decodeContextParallel}`,
    ),
    row(
      "context",
      `${num(p.maxModelLen)} tokens; KV ${p.kvCacheDtype} (${p.kvIndexerDtype} indexer) ` +
        `${num(p.kvCacheBytesPerToken)} B/token, ${gib(p.kvBytesPerSequence)} GiB per sequence as reserved`,
    ),
    row(
      "sequences",
      `${num(p.maxConcurrentSequences)} per replica: ${num(p.sequencesPerDataParallelRank)} per DP rank × ${p.dataParallel}${offloaded}`,
    ),
    row("KV sharding", p.kvSharding),
    "",
    "Per-GPU memory (GiB)",
    row("weights", gib(p.weightsBytesPerGpu).padStart(8)),
    row("KV cache budget", gib(p.kvBudgetBytesPerGpu).padStart(8)),
    row("engine reserve", gib(p.engineReserveBytesPerGpu).padStart(8)),
    row("GPU memory", gib(p.gpuMemoryBytes).padStart(8)),
    "",
    "Engine args",
    ...formatArgs(p.engineArgs).map((l) => `  ${l}`),
  ];
  const env = Object.entries(p.engineEnv);
  if (env.length > 0) lines.push("", "Engine env", ...env.map(([k, v]) => `  ${k}=${v}`));
  if (p.warnings.length > 0) lines.push("", "Warnings", ...p.warnings.map((w) => wrap(`- ${w}`, "  ", "    ")));
  lines.push("", "Reason", wrap(p.reason));
  return `${lines.join("\n")}\n`;
}

/** Names the flag when the user typed it, else the spec field of the file it came from. */
function inputError(err: PlanInputError, values: Values, fromFile: boolean): CliError {
  const name = (field: string) => {
    const flag = FLAG_OF[field];
    const typed = flag !== undefined && values[flag.slice(2) as keyof Values] !== undefined;
    return (fromFile && !typed ? SPEC_FIELD_OF[field] : flag) ?? flag ?? field;
  };
  return new CliError(err.problems.map((p) => `${name(p.field)}: ${p.message}`).join("\n"));
}

export async function main(argv: string[]): Promise<number> {
  let values: Values;
  try {
    values = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: false,
      allowNegative: true,
      strict: true,
    }).values;
  } catch (err) {
    throw new CliError(`${messageOf(err)}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const output = oneOf("output", values.output, ["table", "json"] as const) ?? "table";
  const { input, fromFile } = await buildInput(values);
  let result: Plan;
  try {
    result = plan(input);
  } catch (err) {
    if (err instanceof PlanInputError) throw inputError(err, values, fromFile);
    throw err;
  }
  process.stdout.write(output === "json" ? `${JSON.stringify(result, null, 2)}\n` : formatTable(result));
  return result.feasible ? 0 : 1;
}
