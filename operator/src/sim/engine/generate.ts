// One OpenAI generation request against the engine core: every planned sequence (n × prompts) is a
// scheduler sequence; tokens stream out as SSE events as the core emits them, or are collected into
// one JSON body. A client that disconnects aborts its sequences (vLLM finishes them with "abort").
import type { ServerResponse } from "node:http";
import {
  ApiError,
  DONE,
  finishChunk,
  responseBody,
  sse,
  tokenChunks,
  usageChunk,
  type PlannedRequest,
  type SequenceResult,
} from "./openai.ts";
import type { EngineCore, FinishReason, SequenceHandle } from "./scheduler.ts";

export interface GenerateOutcome {
  /** "error": the engine died under the request. */
  status: "ok" | "aborted" | "error";
  completionTokens: number;
}

export function engineDeadError(): ApiError {
  return new ApiError(
    500,
    "EngineCore encountered an issue. See stack trace (above) for the root cause.",
    "InternalServerError",
  );
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function runGeneration(core: EngineCore, plan: PlannedRequest, res: ServerResponse): Promise<GenerateOutcome> {
  return new Promise<GenerateOutcome>((resolve) => {
    const results: Array<SequenceResult | undefined> = plan.sequences.map(() => undefined);
    const handles: SequenceHandle[] = [];
    let open = plan.sequences.length;
    let failed = false;
    let settled = false;
    const completion = () => results.reduce((a, r) => a + (r?.generated ?? 0), 0);

    const settle = (status: GenerateOutcome["status"]) => {
      if (settled) return;
      settled = true;
      resolve({ status, completionTokens: completion() });
    };

    if (plan.stream) {
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      res.flushHeaders();
    }

    const done = () => {
      if (failed) {
        if (plan.stream) {
          res.end(sse(engineDeadError().body()) + DONE);
        } else {
          const err = engineDeadError();
          sendJson(res, err.status, err.body());
        }
        settle("error");
        return;
      }
      const final = results as SequenceResult[];
      const aborted = final.some((r) => r.reason === "abort");
      if (plan.stream) {
        if (res.writable) res.end((plan.includeUsage ? usageChunk(plan, final) : "") + DONE);
      } else if (!res.destroyed) {
        sendJson(res, 200, responseBody(plan, final));
      }
      settle(aborted ? "aborted" : "ok");
    };

    plan.sequences.forEach((seq, i) => {
      let reported = false;
      const handle = core.submit({
        promptTokens: seq.promptTokens,
        outputTokens: seq.outputTokens,
        finishReason: seq.finishReason,
        onTokens: (from, count) => {
          if (!plan.stream || !res.writable) return;
          const last = from + count >= seq.outputTokens;
          if (last) reported = true;
          res.write(tokenChunks(plan, i, from, count, last ? seq.finishReason : undefined, from + count));
        },
        onFinish: (reason: FinishReason | "error", generated) => {
          if (reason === "error") failed = true;
          else {
            results[i] = { generated, reason };
            if (plan.stream && !reported && res.writable) res.write(finishChunk(plan, i, reason, generated));
          }
          if (--open === 0) done();
        },
      });
      handles.push(handle);
    });

    // `close` fires after a normal end too; only an early one is a client going away.
    res.on("close", () => {
      if (open > 0) for (const h of handles) h.abort();
    });
  });
}
