// The OpenAI-compatible request and response shapes both engines serve (/v1/chat/completions,
// /v1/completions): validation with the engines' error messages, prompt-token estimates, and the
// JSON bodies and SSE chunks, including vLLM's non-standard fields (stop_reason, max_model_len).
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { EngineConfig } from "./config.ts";
import type { FinishReason } from "./scheduler.ts";
import { estimateTokens, promptSeed, splitInto, tokensText } from "./text.ts";

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  constructor(status: number, message: string, type = "BadRequestError", param: string | null = null) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
  }
  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.status } };
  }
}

const contentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const message = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  tool_calls: z
    .array(z.looseObject({ function: z.looseObject({ name: z.string(), arguments: z.string().optional() }) }))
    .optional(),
});
const tool = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});
const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) }),
]);
const common = {
  model: z.string().optional(),
  n: z.number().int().min(1).max(128).optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
};
const chatSchema = z.looseObject({
  ...common,
  messages: z.array(message).min(1),
  max_completion_tokens: z.number().int().min(1).nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
});
const completionSchema = z.looseObject({
  ...common,
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
});

export type Api = "chat" | "completions";

interface ToolPlan {
  id: string;
  name: string;
  /** The full arguments string the "model" would produce, and how many tokens it takes. */
  arguments: string;
  tokens: number;
}

export interface PlannedSequence {
  /** Choice index in the response. */
  index: number;
  promptTokens: number;
  seed: number;
  outputTokens: number;
  finishReason: "stop" | "length";
  tool?: ToolPlan;
}

export interface PlannedRequest {
  api: Api;
  id: string;
  created: number;
  model: string;
  stream: boolean;
  includeUsage: boolean;
  /** Prompt tokens counted once per prompt (n > 1 shares its prompt), as usage reports them. */
  promptTokens: number;
  sequences: PlannedSequence[];
}

export interface PlanContext {
  config: EngineConfig;
  /** Output length when the client sets no max_tokens: the simulated model's "natural" answer. */
  defaultOutputTokens: number;
}

/** vLLM's chat template adds a few tokens per message and the assistant header. */
const TOKENS_PER_MESSAGE = 4;
const ASSISTANT_HEADER_TOKENS = 3;
/** OpenAI's and vLLM's completions default (CompletionRequest.max_tokens = 16). */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

function issue(err: z.ZodError): ApiError {
  const first = err.issues[0];
  const path = first?.path.join(".") ?? "";
  return new ApiError(
    400,
    `invalid request${path ? ` at ${path}` : ""}: ${first?.message ?? "malformed body"}`,
    "BadRequestError",
    path || null,
  );
}

function resolveModel(ctx: PlanContext, requested: string | undefined): string {
  const names = ctx.config.servedModelNames;
  if (requested === undefined || requested === "") return names[0]!;
  if (ctx.config.engine === "vllm" && !names.includes(requested)) {
    throw new ApiError(404, `The model \`${requested}\` does not exist.`, "NotFoundError", "model");
  }
  return requested;
}

function messageText(m: z.infer<typeof message>): string {
  let s = "";
  if (typeof m.content === "string") s += m.content;
  else if (Array.isArray(m.content)) for (const p of m.content) s += p.text ?? "";
  for (const c of m.tool_calls ?? []) s += c.function.name + (c.function.arguments ?? "");
  return s;
}

function outputLength(
  ctx: PlanContext,
  promptTokens: number,
  maxTokens: number | null | undefined,
  defaultMax: number | undefined,
): { outputTokens: number; finishReason: "stop" | "length" } {
  const maxLen = ctx.config.maxModelLen;
  if (promptTokens >= maxLen) {
    throw new ApiError(
      400,
      `This model's maximum context length is ${maxLen} tokens. However, your request has ${promptTokens} input ` +
        `tokens. Please reduce the length of the input messages.`,
    );
  }
  const cap = maxTokens ?? defaultMax;
  if (cap === undefined) {
    return { outputTokens: Math.min(ctx.defaultOutputTokens, maxLen - promptTokens), finishReason: "stop" };
  }
  if (promptTokens + cap > maxLen) {
    throw new ApiError(
      400,
      `This model's maximum context length is ${maxLen} tokens. However, you requested ${promptTokens + cap} ` +
        `tokens (${promptTokens} in the messages, ${cap} in the completion). Please reduce the length of the messages or completion.`,
    );
  }
  return { outputTokens: cap, finishReason: "length" };
}

/** Deterministic arguments that satisfy a JSON schema's required properties. */
function argumentsFor(parameters: Record<string, unknown> | undefined): string {
  const props = (parameters?.properties ?? {}) as Record<string, { type?: string; enum?: unknown[] }>;
  const required = Array.isArray(parameters?.required) ? (parameters.required as string[]) : Object.keys(props);
  const out: Record<string, unknown> = {};
  for (const k of required) {
    const p = props[k] ?? {};
    if (p.enum?.length) out[k] = p.enum[0];
    else if (p.type === "number" || p.type === "integer") out[k] = 1;
    else if (p.type === "boolean") out[k] = true;
    else if (p.type === "array") out[k] = [];
    else if (p.type === "object") out[k] = {};
    else out[k] = "simulated";
  }
  return JSON.stringify(out);
}

function planTool(ctx: PlanContext, body: z.infer<typeof chatSchema>): ToolPlan | undefined {
  const tools = body.tools ?? [];
  if (tools.length === 0) return undefined;
  const choice = body.tool_choice ?? "auto";
  if (choice === "none") return undefined;
  let chosen = tools[0]!;
  if (typeof choice === "object") {
    const named = tools.find((t) => t.function.name === choice.function.name);
    if (!named)
      throw new ApiError(
        400,
        `Tool "${choice.function.name}" has not been passed in \`tools\`.`,
        "BadRequestError",
        "tool_choice",
      );
    chosen = named;
  } else if (choice === "auto" && !ctx.config.autoToolChoice) {
    // vLLM refuses; SGLang without a parser simply answers in text.
    if (ctx.config.engine === "vllm") {
      throw new ApiError(
        400,
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
        "BadRequestError",
        "tool_choice",
      );
    }
    return undefined;
  }
  const args = argumentsFor(chosen.function.parameters);
  return {
    id: `chatcmpl-tool-${randomUUID().replaceAll("-", "")}`,
    name: chosen.function.name,
    arguments: args,
    tokens: Math.max(1, estimateTokens(args)),
  };
}

export function planRequest(api: Api, raw: unknown, ctx: PlanContext): PlannedRequest {
  const base = { id: "", created: Math.floor(Date.now() / 1000) };
  if (api === "chat") {
    const parsed = chatSchema.safeParse(raw);
    if (!parsed.success) throw issue(parsed.error);
    const body = parsed.data;
    const model = resolveModel(ctx, body.model);
    let text = "";
    for (const m of body.messages) text += m.role + "\n" + messageText(m) + "\n";
    const toolText = body.tools?.length ? JSON.stringify(body.tools) : "";
    const promptTokens =
      body.messages.reduce((a, m) => a + TOKENS_PER_MESSAGE + estimateTokens(messageText(m)), ASSISTANT_HEADER_TOKENS) +
      estimateTokens(toolText);
    const tool = planTool(ctx, body);
    const n = body.n ?? 1;
    const cap = body.max_completion_tokens ?? body.max_tokens;
    let len = outputLength(ctx, promptTokens, cap, undefined);
    if (tool) len = tool.tokens <= len.outputTokens ? { outputTokens: tool.tokens, finishReason: "stop" } : len;
    const seed = promptSeed(text);
    return {
      ...base,
      api,
      id: `chatcmpl-${randomUUID().replaceAll("-", "")}`,
      model,
      stream: !!body.stream,
      includeUsage: !!body.stream_options?.include_usage,
      promptTokens,
      sequences: Array.from({ length: n }, (_, i) => ({
        index: i,
        promptTokens,
        seed: seed + i,
        ...len,
        ...(tool ? { tool } : {}),
      })),
    };
  }
  const parsed = completionSchema.safeParse(raw);
  if (!parsed.success) throw issue(parsed.error);
  const body = parsed.data;
  const model = resolveModel(ctx, body.model);
  const p = body.prompt;
  // string | string[] | token ids | token-id lists → one entry per prompt.
  const prompts: Array<{ text: string; tokens: number }> =
    typeof p === "string"
      ? [{ text: p, tokens: estimateTokens(p) }]
      : typeof p[0] === "number"
        ? [{ text: (p as number[]).join(","), tokens: p.length }]
        : typeof p[0] === "string"
          ? (p as string[]).map((t) => ({ text: t, tokens: estimateTokens(t) }))
          : (p as number[][]).map((ids) => ({ text: ids.join(","), tokens: ids.length }));
  const n = body.n ?? 1;
  const sequences: PlannedSequence[] = [];
  let promptTokens = 0;
  prompts.forEach((pr, pi) => {
    const tokens = Math.max(1, pr.tokens);
    promptTokens += tokens;
    const len = outputLength(ctx, tokens, body.max_tokens, COMPLETIONS_DEFAULT_MAX_TOKENS);
    const seed = promptSeed(pr.text);
    for (let i = 0; i < n; i++) sequences.push({ index: pi * n + i, promptTokens: tokens, seed: seed + i, ...len });
  });
  return {
    ...base,
    api,
    id: `cmpl-${randomUUID().replaceAll("-", "")}`,
    model,
    stream: !!body.stream,
    includeUsage: !!body.stream_options?.include_usage,
    promptTokens,
    sequences,
  };
}

/** What the API reports for a sequence that stopped with the engine's reason. */
function apiFinish(seq: PlannedSequence, reason: FinishReason, generated: number): string {
  if (seq.tool && reason === "stop" && generated >= seq.tool.tokens) return "tool_calls";
  return reason;
}

function toolPiece(seq: PlannedSequence, from: number, count: number): string {
  const pieces = splitInto(seq.tool!.arguments, seq.tool!.tokens);
  return pieces.slice(from, from + count).join("");
}

export interface SequenceResult {
  generated: number;
  reason: FinishReason;
}

function usage(req: PlannedRequest, results: SequenceResult[]) {
  const completion = results.reduce((a, r) => a + r.generated, 0);
  return {
    prompt_tokens: req.promptTokens,
    total_tokens: req.promptTokens + completion,
    completion_tokens: completion,
    prompt_tokens_details: null,
  };
}

export function responseBody(req: PlannedRequest, results: SequenceResult[]): unknown {
  const choices = req.sequences.map((seq, i) => {
    const r = results[i]!;
    const finish = apiFinish(seq, r.reason, r.generated);
    if (req.api === "completions") {
      return {
        index: seq.index,
        text: tokensText(seq.seed, 0, r.generated),
        logprobs: null,
        finish_reason: finish,
        stop_reason: null,
        prompt_logprobs: null,
      };
    }
    const message = seq.tool
      ? {
          role: "assistant",
          content: null,
          reasoning_content: null,
          tool_calls: [
            {
              id: seq.tool.id,
              type: "function",
              function: { name: seq.tool.name, arguments: toolPiece(seq, 0, r.generated) },
            },
          ],
        }
      : { role: "assistant", content: tokensText(seq.seed, 0, r.generated), reasoning_content: null, tool_calls: [] };
    return { index: seq.index, message, logprobs: null, finish_reason: finish, stop_reason: null };
  });
  return {
    id: req.id,
    object: req.api === "chat" ? "chat.completion" : "text_completion",
    created: req.created,
    model: req.model,
    choices,
    usage: usage(req, results),
    prompt_logprobs: null,
  };
}

/** SSE `data:` events for tokens [from, from+count) of one sequence; `finish` set on the last one. */
export function tokenChunks(
  req: PlannedRequest,
  seqIdx: number,
  from: number,
  count: number,
  finish: FinishReason | undefined,
  total: number,
): string {
  const seq = req.sequences[seqIdx]!;
  let out = "";
  for (let t = from; t < from + count; t++) {
    const last = finish !== undefined && t === from + count - 1;
    const finishReason = last ? apiFinish(seq, finish, total) : null;
    let choice: unknown;
    if (req.api === "completions") {
      choice = {
        index: seq.index,
        text: tokensText(seq.seed, t, 1),
        logprobs: null,
        finish_reason: finishReason,
        stop_reason: null,
      };
    } else if (seq.tool) {
      const call =
        t === 0
          ? {
              index: 0,
              id: seq.tool.id,
              type: "function",
              function: { name: seq.tool.name, arguments: toolPiece(seq, t, 1) },
            }
          : { index: 0, function: { arguments: toolPiece(seq, t, 1) } };
      choice = {
        index: seq.index,
        delta: t === 0 ? { role: "assistant", tool_calls: [call] } : { tool_calls: [call] },
        logprobs: null,
        finish_reason: finishReason,
      };
    } else {
      choice = {
        index: seq.index,
        delta:
          t === 0
            ? { role: "assistant", content: tokensText(seq.seed, t, 1) }
            : { content: tokensText(seq.seed, t, 1) },
        logprobs: null,
        finish_reason: finishReason,
      };
    }
    out += sse(chunk(req, [choice]));
  }
  return out;
}

/** A finish with no new token (an abort): an empty delta carrying finish_reason. */
export function finishChunk(req: PlannedRequest, seqIdx: number, reason: FinishReason, total: number): string {
  const seq = req.sequences[seqIdx]!;
  const choice =
    req.api === "completions"
      ? { index: seq.index, text: "", logprobs: null, finish_reason: apiFinish(seq, reason, total), stop_reason: null }
      : { index: seq.index, delta: {}, logprobs: null, finish_reason: apiFinish(seq, reason, total) };
  return sse(chunk(req, [choice]));
}

export function usageChunk(req: PlannedRequest, results: SequenceResult[]): string {
  return sse({ ...chunk(req, []), usage: usage(req, results) });
}

export const DONE = "data: [DONE]\n\n";

function chunk(req: PlannedRequest, choices: unknown[]) {
  return {
    id: req.id,
    object: req.api === "chat" ? "chat.completion.chunk" : "text_completion",
    created: req.created,
    model: req.model,
    choices,
  };
}

export function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}
