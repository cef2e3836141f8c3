// A failure kept for later (a background write, a worker) is rethrown to callers that read `.message`
// and `.code`: keep it as an Error. Errors pass through unchanged, so their class and code survive;
// isNativeError also knows errors made in another realm (Node's own, under a VM context), which
// `instanceof Error` does not.
import { types } from "node:util";

export function asError(x: unknown): Error {
  return x instanceof Error || types.isNativeError(x) ? x : new Error(String(x));
}
