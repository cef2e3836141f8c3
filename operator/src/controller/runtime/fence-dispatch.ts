// The write fence (fence.ts) at the last moment in-process: undici calls a request handler's onRequestStart
// synchronously just before it writes the request to a socket (HTTP/1.1 and HTTP/2 alike), and does not write it
// when the handler aborts there. A fenced request checks the fence in that call.
import type { RequestContext } from "@kubernetes/client-node";
import { getGlobalDispatcher, type Dispatcher } from "undici";
import type { WriteFence } from "./fence.ts";

type AnyDispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/** `dispatcher` (or undici's global one) with every request it sends gated by `fence` at write time. */
export function fencedDispatcher(dispatcher: AnyDispatcher | undefined, fence: WriteFence): Dispatcher {
  const base = dispatcher ?? getGlobalDispatcher();
  return base.compose((dispatch) => (opts, handler) => dispatch(opts, gate(handler, fence)));
}

function gate(handler: Dispatcher.DispatchHandler, fence: WriteFence): Dispatcher.DispatchHandler {
  return new Proxy(handler, {
    get(target, prop, receiver) {
      if (prop === "onRequestStart") {
        return (controller: Dispatcher.DispatchController, context: unknown) => {
          try {
            fence.check();
          } catch (err) {
            controller.abort(err as Error);
            return;
          }
          return target.onRequestStart?.(controller, context);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
