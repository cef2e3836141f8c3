// A failure kept for later (a background write, a worker) is rethrown to callers that read `.message`
// and `.code`: keep it as an Error. Errors pass through unchanged, so their class and code survive.
export function asError(x: unknown): Error {
  return x instanceof Error ? x : new Error(String(x));
}
