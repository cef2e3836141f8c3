// What the simulator takes from the real engine command line. The harness hands it the argv the
// operator rendered (`vllm serve …` or `python3 -m sglang.launch_server …`); only the flags that shape
// what a client or a scraper can observe are read, everything else is accepted and ignored, as the
// simulator cannot honour kernels, parallel backends or quantisation anyway.

export type EngineKind = "vllm" | "sglang";

/** V4-Flash `max_position_embeddings`: what vLLM uses for `--max-model-len auto` / unset. */
export const V4_FLASH_MAX_POSITION = 1_048_576;

export interface EngineConfig {
  engine: EngineKind;
  /** Model path or repo id as given to the engine. */
  modelPath: string;
  /** Names accepted in `model` and listed by /v1/models; the first is the metrics `model_name`. */
  servedModelNames: string[];
  maxModelLen: number;
  dataParallel: number;
  tensorParallel: number;
  expertParallel: boolean;
  /** SGLang `--enable-dp-attention`: DP ranks inside one TP group. */
  dpAttention: boolean;
  /** Running-sequence cap of ONE data-parallel rank (one scheduler). */
  maxSeqsPerRank: number;
  /** KV allocation granularity in tokens (vLLM --block-size, SGLang --page-size). */
  blockSize: number;
  /** From SGLang --max-total-tokens: KV pool size in tokens per rank, when given. */
  maxTotalTokens?: number;
  /** SGLang serves /metrics only with --enable-metrics. */
  metricsEnabled: boolean;
  /** vLLM: `tool_choice: "auto"` needs --enable-auto-tool-choice and a --tool-call-parser. */
  autoToolChoice: boolean;
  toolCallParser?: string;
  /** vLLM multi-node worker (`--headless`): no API server at all. */
  headless: boolean;
  /** Host/port embedded in the argv (the simulator's own flags win). */
  host?: string;
  port?: number;
}

export class EngineArgvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineArgvError";
  }
}

// Flags whose value is the next token. Every other `--flag` is treated as boolean unless the next
// token does not look like a flag (the engines' own parsers know their flags; we only need to skip
// values correctly, and a JSON or path value never starts with "-").
const MULTI_VALUE = new Set(["--served-model-name"]);
// Switches that never take a value, so a positional after them (`vllm serve --trust-remote-code /m`)
// stays a positional. Both engines use argparse store_true/BooleanOptionalAction for these.
const BOOLEAN = new Set(["--trust-remote-code", "--headless", "--enforce-eager", "-ep"]);
const isSwitch = (name: string) => BOOLEAN.has(name) || /^--(enable|disable|no)-/.test(name);

interface ParsedArgv {
  positionals: string[];
  flags: Map<string, string[]>;
}

function splitArgv(argv: string[]): ParsedArgv {
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v]);
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (!tok.startsWith("-") || tok === "-" || /^-\d/.test(tok)) {
      positionals.push(tok);
      continue;
    }
    const eq = tok.indexOf("=");
    if (eq > 0) {
      add(normalise(tok.slice(0, eq)), tok.slice(eq + 1));
      continue;
    }
    const name = normalise(tok);
    if (MULTI_VALUE.has(name)) {
      let any = false;
      while (i + 1 < argv.length && !isFlag(argv[i + 1]!)) {
        add(name, argv[++i]!);
        any = true;
      }
      if (!any) throw new EngineArgvError(`${tok} needs a value`);
      continue;
    }
    if (!isSwitch(name) && i + 1 < argv.length && !isFlag(argv[i + 1]!)) add(name, argv[++i]!);
    else add(name, "true");
  }
  return { positionals, flags };
}

function isFlag(tok: string): boolean {
  return tok.startsWith("-") && tok !== "-" && !/^-\d/.test(tok);
}

/** vLLM and SGLang accept both `--max_model_len` and `--max-model-len` spellings. */
function normalise(flag: string): string {
  return flag.startsWith("--") ? "--" + flag.slice(2).replaceAll("_", "-") : flag;
}

function last(p: ParsedArgv, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = p.flags.get(n);
    if (v?.length) return v[v.length - 1];
  }
  return undefined;
}

function has(p: ParsedArgv, ...names: string[]): boolean {
  return names.some((n) => {
    const v = p.flags.get(n);
    return v !== undefined && v[v.length - 1] !== "false";
  });
}

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new EngineArgvError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * vLLM's human-readable lengths (vllm/config: "1k -> 1000, 1K -> 1024, 25.6k -> 25600"); `auto` or -1
 * means the model's own maximum.
 */
export function parseModelLen(flag: string, v: string): number {
  if (v === "auto" || v === "-1") return V4_FLASH_MAX_POSITION;
  const m = /^(\d+(?:\.\d+)?)([kmgKMG]?)$/.exec(v);
  if (!m) throw new EngineArgvError(`${flag} must be a token count like 131072, 128k or 1M, got ${JSON.stringify(v)}`);
  const unit = m[2] ?? "";
  const mult =
    unit === ""
      ? 1
      : unit === unit.toLowerCase()
        ? 1000 ** ("kmg".indexOf(unit) + 1)
        : 1024 ** ("KMG".indexOf(unit) + 1);
  const n = Math.round(Number(m[1]) * mult);
  if (n < 1) throw new EngineArgvError(`${flag} must be positive, got ${JSON.stringify(v)}`);
  return n;
}

/** Which engine an argv belongs to, when the command says so. */
export function detectEngine(argv: string[]): EngineKind | undefined {
  const head = argv.slice(0, 4).join(" ");
  if (/sglang/.test(head)) return "sglang";
  if (/(^|\/|\s)vllm(\s|$)|vllm\.entrypoints/.test(head)) return "vllm";
  return undefined;
}

/**
 * Drop the launcher words (`vllm serve`, `python3 -m sglang.launch_server`, and the operator's
 * `python3 -c <program>` launchers of render/launch.ts) before the flags.
 */
function stripLauncher(engine: EngineKind, argv: string[]): string[] {
  let i = 0;
  if (argv[0] !== undefined && /^python[\d.]*$/.test(argv[0]) && argv[1] === "-c") i = 3;
  if (engine === "vllm") {
    if (argv[i] !== undefined && /(^|\/)vllm$/.test(argv[i]!)) i++;
    if (argv[i] === "serve") i++;
    else if (argv[i] !== undefined && /^python[\d.]*$/.test(argv[i]!) && argv[i + 1] === "-m") i += 3;
  } else {
    if (argv[i] !== undefined && /^python[\d.]*$/.test(argv[i]!) && argv[i + 1] === "-m") i += 3;
    else if (argv[i] !== undefined && /sglang/.test(argv[i]!)) i++;
  }
  return argv.slice(i);
}

export interface ConfigOverrides {
  /** The simulator's --max-num-seqs: per DP rank, wins over the argv. */
  maxNumSeqs?: number;
}

/** Running-sequence cap per rank when neither the argv nor the simulator flag sets one. */
export const DEFAULT_MAX_SEQS_PER_RANK = 64;

export function parseEngineArgv(engine: EngineKind, argv: string[], overrides: ConfigOverrides = {}): EngineConfig {
  const p = splitArgv(stripLauncher(engine, argv));
  const port = positiveInt("--port", last(p, "--port"));
  const host = last(p, "--host");
  if (engine === "vllm") {
    const modelPath = last(p, "--model") ?? p.positionals[0] ?? "facebook/opt-125m";
    const served = p.flags.get("--served-model-name") ?? [modelPath];
    const dp = positiveInt("--data-parallel-size", last(p, "--data-parallel-size", "-dp")) ?? 1;
    const tp = positiveInt("--tensor-parallel-size", last(p, "--tensor-parallel-size", "-tp")) ?? 1;
    const lenFlag = last(p, "--max-model-len");
    return {
      engine,
      modelPath,
      servedModelNames: served,
      maxModelLen: lenFlag === undefined ? V4_FLASH_MAX_POSITION : parseModelLen("--max-model-len", lenFlag),
      dataParallel: dp,
      tensorParallel: tp,
      expertParallel: has(p, "--enable-expert-parallel", "-ep"),
      dpAttention: dp > 1,
      maxSeqsPerRank:
        overrides.maxNumSeqs ?? positiveInt("--max-num-seqs", last(p, "--max-num-seqs")) ?? DEFAULT_MAX_SEQS_PER_RANK,
      blockSize: positiveInt("--block-size", last(p, "--block-size")) ?? 16,
      metricsEnabled: true,
      autoToolChoice: has(p, "--enable-auto-tool-choice"),
      ...optional("toolCallParser", last(p, "--tool-call-parser")),
      headless: has(p, "--headless"),
      ...optional("host", host),
      ...optional("port", port),
    };
  }
  const modelPath = last(p, "--model-path", "--model") ?? p.positionals[0];
  if (!modelPath) throw new EngineArgvError("sglang.launch_server needs --model-path");
  const dp = positiveInt("--dp-size", last(p, "--dp-size", "--dp", "--data-parallel-size")) ?? 1;
  const tp = positiveInt("--tp-size", last(p, "--tp-size", "--tp", "--tensor-parallel-size")) ?? 1;
  const dpAttention = has(p, "--enable-dp-attention");
  const ep = positiveInt("--ep-size", last(p, "--ep-size", "--ep", "--expert-parallel-size")) ?? 1;
  const lenFlag = last(p, "--context-length");
  const total = positiveInt("--max-running-requests", last(p, "--max-running-requests"));
  const maxTotalTokens = positiveInt("--max-total-tokens", last(p, "--max-total-tokens"));
  return {
    engine,
    modelPath,
    // SGLang takes one served name; it defaults to the model path.
    servedModelNames: [last(p, "--served-model-name") ?? modelPath],
    maxModelLen: lenFlag === undefined ? V4_FLASH_MAX_POSITION : parseModelLen("--context-length", lenFlag),
    dataParallel: dp,
    tensorParallel: tp,
    expertParallel: ep > 1,
    dpAttention,
    // SGLang's --max-running-requests is per server; each DP scheduler gets its share
    // (model_runner: `server_args.max_running_requests // dp_size`).
    maxSeqsPerRank:
      overrides.maxNumSeqs ?? (total !== undefined ? Math.max(1, Math.floor(total / dp)) : DEFAULT_MAX_SEQS_PER_RANK),
    blockSize: positiveInt("--page-size", last(p, "--page-size")) ?? 1,
    ...optional("maxTotalTokens", maxTotalTokens),
    metricsEnabled: has(p, "--enable-metrics"),
    autoToolChoice: last(p, "--tool-call-parser") !== undefined,
    ...optional("toolCallParser", last(p, "--tool-call-parser")),
    headless: false,
    ...optional("host", host),
    ...optional("port", port),
  };
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}
