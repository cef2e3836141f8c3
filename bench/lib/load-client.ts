// One OpenAI-compatible request as a load generator sees it: status, time to first token (streaming
// only: the first chunk that carries text or a tool call), end-to-end latency and the token usage.

export type LoadApi = "chat" | "completions";

export interface RequestSpec {
  baseUrl: string;
  api: LoadApi;
  model: string;
  prompt: string;
  maxTokens: number;
  stream: boolean;
  signal: AbortSignal;
}

export type RequestResult =
  | { kind: "ok"; latencySeconds: number; ttftSeconds?: number; promptTokens: number; completionTokens: number }
  | { kind: "error"; message: string }
  /** Still running when the run's hard stop aborted it. */
  | { kind: "cut"; completionTokens: number };

const IPV4_LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The network rule: load goes to 127.0.0.0/8 only. Throws for anything else, names included. */
export function assertLoopbackUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== "http:") throw new Error(`--url must be http://127.x.y.z:port, got ${url.protocol}`);
  if (!IPV4_LOOPBACK.test(url.hostname) || url.hostname.split(".").some((o) => Number(o) > 255)) {
    throw new Error(
      `refusing to send load to ${url.hostname}: only 127.0.0.0/8 addresses are allowed (use 127.0.0.1, not a name)`,
    );
  }
  return url;
}

function body(s: RequestSpec): unknown {
  const common = {
    model: s.model,
    max_tokens: s.maxTokens,
    ...(s.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
  return s.api === "chat"
    ? { ...common, messages: [{ role: "user", content: s.prompt }] }
    : { ...common, prompt: s.prompt };
}

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

export async function sendRequest(s: RequestSpec): Promise<RequestResult> {
  const t0 = performance.now();
  const path = s.api === "chat" ? "/v1/chat/completions" : "/v1/completions";
  let streamedTokens = 0;
  try {
    const res = await fetch(new URL(path, s.baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body(s)),
      signal: s.signal,
    });
    if (res.status !== 200) {
      const text = await res.text().catch(() => "");
      return { kind: "error", message: `HTTP ${res.status} from ${path}: ${text.slice(0, 200)}` };
    }
    if (!s.stream) {
      const json = (await res.json()) as { usage?: Usage };
      return {
        kind: "ok",
        latencySeconds: (performance.now() - t0) / 1000,
        promptTokens: json.usage?.prompt_tokens ?? 0,
        completionTokens: json.usage?.completion_tokens ?? 0,
      };
    }
    let ttft: number | undefined;
    let usage: Usage | undefined;
    let sawDone = false;
    let buf = "";
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut).trim();
        buf = buf.slice(cut + 2);
        if (!event.startsWith("data:")) continue;
        const data = event.slice(5).trim();
        if (data === "[DONE]") {
          sawDone = true;
          continue;
        }
        const parsed = JSON.parse(data) as {
          choices?: Array<{ text?: string; delta?: { content?: string | null; tool_calls?: unknown[] } }>;
          usage?: Usage;
          error?: { message?: string };
        };
        if (parsed.error)
          return { kind: "error", message: `stream error from ${path}: ${parsed.error.message ?? "unknown"}` };
        if (parsed.usage) usage = parsed.usage;
        for (const c of parsed.choices ?? []) {
          if (c.text || c.delta?.content || c.delta?.tool_calls?.length) {
            streamedTokens++;
            ttft ??= (performance.now() - t0) / 1000;
          }
        }
      }
    }
    if (!sawDone) return { kind: "error", message: `stream from ${path} ended without [DONE]` };
    return {
      kind: "ok",
      latencySeconds: (performance.now() - t0) / 1000,
      ...(ttft !== undefined ? { ttftSeconds: ttft } : {}),
      promptTokens: usage?.prompt_tokens ?? 0,
      completionTokens: usage?.completion_tokens ?? streamedTokens,
    };
  } catch (err) {
    if (s.signal.aborted) return { kind: "cut", completionTokens: streamedTokens };
    const e = err as Error & { cause?: { code?: string } };
    return { kind: "error", message: `${path}: ${e.cause?.code ?? e.message}` };
  }
}
