// Deterministic stand-ins for the tokenizer and the model: a prompt's token count is estimated from
// its UTF-8 size, and generated token i of a sequence is a word picked from a fixed list by the
// prompt's hash and i. Same prompt, same answer: tests can assert on text without any randomness.
import { createHash } from "node:crypto";

const WORDS = [
  "the",
  "model",
  "serves",
  "tokens",
  "from",
  "a",
  "simulated",
  "engine",
  "while",
  "the",
  "operator",
  "watches",
  "queues",
  "and",
  "scales",
  "replicas",
  "of",
  "DeepSeek",
  "on",
  "many",
  "GPUs",
  "with",
  "expert",
  "parallel",
  "attention",
  "over",
  "long",
  "contexts",
  "so",
  "every",
  "request",
  "waits",
  "its",
  "turn",
  "in",
  "a",
  "batch",
  "that",
  "grows",
  "until",
  "the",
  "cache",
  "is",
  "full",
  "then",
  "new",
  "work",
  "queues",
  "again",
  "and",
  "metrics",
  "rise",
  "for",
  "the",
  "autoscaler",
  "to",
  "see",
] as const;

/** Rough BPE density for English and code: about four UTF-8 bytes per token. */
const BYTES_PER_TOKEN = 4;

export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  return Math.max(1, Math.ceil(Buffer.byteLength(text, "utf8") / BYTES_PER_TOKEN));
}

/** A stable 32-bit seed for a prompt, so a given prompt always gets the same words. */
export function promptSeed(prompt: string): number {
  return createHash("sha256").update(prompt).digest().readUInt32BE(0);
}

/** Text of generated token `index` (0-based): one word, space-separated after the first. */
export function tokenText(seed: number, index: number): string {
  const word = WORDS[(seed + index) % WORDS.length]!;
  return index === 0 ? word : " " + word;
}

export function tokensText(seed: number, from: number, count: number): string {
  let s = "";
  for (let i = from; i < from + count; i++) s += tokenText(seed, i);
  return s;
}

/**
 * Split a fixed string (a tool call's arguments) into `pieces` consecutive parts so that it streams
 * over as many tokens as the scheduler generates for it.
 */
export function splitInto(text: string, pieces: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < pieces; i++)
    out.push(text.slice(Math.floor((i * text.length) / pieces), Math.floor(((i + 1) * text.length) / pieces)));
  return out;
}
