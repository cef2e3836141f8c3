// Per-call options for client-node's generated APIs (CoordinationV1Api, EventsV1Api): a request timeout / abort
// signal and an optional Content-Type override. The generated methods take Observable-style middleware; the
// Observable here is client-node's own minimal stub, so no rxjs is involved.
import {
  Observable,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import type { WriteFence } from "./fence.ts";
import { fencedDispatcher } from "./fence-dispatch.ts";

export function requestOptions(opts: {
  signal?: AbortSignal;
  contentType?: string;
  /** Checked when the request is written to its connection (fence-dispatch.ts). */
  fence?: WriteFence;
}): ConfigurationOptions<ObservableMiddleware> {
  const middleware: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      if (opts.signal) ctx.setSignal(opts.signal);
      // Middleware runs after the auth step has chosen the request's dispatcher (connections.ts).
      if (opts.fence) ctx.setDispatcher(fencedDispatcher(ctx.getDispatcher(), opts.fence));
      // The generated patch methods default to application/json-patch+json; merge patches must say so.
      if (opts.contentType) ctx.setHeaderParam("Content-Type", opts.contentType);
      return new Observable(Promise.resolve(ctx));
    },
    post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}
