// Helpers for tests that talk to a running simulator over HTTP: scrape and parse /metrics, read an
// SSE stream into its events, wait for a condition without asserting on how long it took.
import { parsePrometheusText, type MetricFamily } from "./promtext.ts";

export async function scrape(baseUrl: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics: HTTP ${res.status}`);
  return parsePrometheusText(await res.text());
}

/** The JSON payloads of an SSE body, plus whether it ended with `data: [DONE]`. */
export function parseSse(body: string): { events: any[]; done: boolean } {
  const events: any[] = [];
  let done = false;
  for (const block of body.split("\n\n")) {
    const line = block.trim();
    if (!line) continue;
    if (!line.startsWith("data: ")) throw new Error(`not an SSE data line: ${JSON.stringify(line.slice(0, 80))}`);
    const data = line.slice("data: ".length);
    if (data === "[DONE]") done = true;
    else events.push(JSON.parse(data));
  }
  return { events, done };
}

/** Poll `cond` until it holds; the limit only guards against a hang, it is not what a test checks. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function postJson(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}
