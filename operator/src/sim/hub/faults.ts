// Faults the simulator injects on demand. Each has a budget (`times`); a fault with no `path` hits every
// file. Offsets are file offsets, so "drop after N bytes" means the transfer dies when it reaches byte N
// of the file, whichever range was asked for.

export type Route = "revision" | "tree" | "resolve" | "cdn" | "plain" | "any";

export type Fault =
  /** Close the connection when the response reaches file offset `afterBytes`. */
  | { kind: "drop"; path?: string; afterBytes: number; times?: number }
  /** Stop sending at file offset `afterBytes` and keep the connection open. */
  | { kind: "stall"; path?: string; afterBytes: number; times?: number }
  /** Flip the bits of file bytes [offset, offset + length) in the responses that cover them. */
  | { kind: "corrupt"; path?: string; offset: number; length: number; times?: number }
  /**
   * Answer `status` (401, 403, 404, 429, 500, 503...) instead of the real answer, after letting `skip`
   * matching requests through (a CDN URL that works, then expires).
   */
  | {
      kind: "status";
      status: number;
      route?: Route;
      path?: string;
      times?: number;
      skip?: number;
      retryAfter?: number;
      errorCode?: string;
    }
  /** Send at most `bytesPerSecond` per response (default: for good). */
  | { kind: "rate"; path?: string; bytesPerSecond: number; times?: number };

type Armed = { fault: Fault; left: number; skip: number };

export class FaultSet {
  private armed: Armed[] = [];

  add(fault: Fault): void {
    const left = fault.times ?? (fault.kind === "rate" ? Number.POSITIVE_INFINITY : 1);
    this.armed.push({ fault, left, skip: fault.kind === "status" ? (fault.skip ?? 0) : 0 });
  }

  clear(): void {
    this.armed = [];
  }

  list(): { fault: Fault; left: number }[] {
    return this.armed.map((a) => ({ ...a }));
  }

  /** Takes one use of the first matching status fault for this route and file. */
  takeStatus(route: Route, path: string | undefined): Extract<Fault, { kind: "status" }> | undefined {
    const a = this.armed.find((x) => x.left > 0 && matchesStatus(x, route, path));
    if (!a) return undefined;
    if (a.skip > 0) {
      a.skip--;
      return undefined;
    }
    a.left--;
    return a.fault as Extract<Fault, { kind: "status" }>;
  }

  /**
   * The content faults for a response of bytes [start, end) of `path`, each use taken now: a drop or
   * stall point inside the range, corrupt ranges overlapping it, a rate limit.
   */
  takeContent(
    path: string,
    start: number,
    end: number,
  ): { cutAt?: number; cut?: "drop" | "stall"; corrupt: { offset: number; length: number }[]; rate?: number } {
    const out: {
      cutAt?: number;
      cut?: "drop" | "stall";
      corrupt: { offset: number; length: number }[];
      rate?: number;
    } = { corrupt: [] };
    for (const a of this.armed) {
      const f = a.fault;
      if (a.left <= 0 || (f.path !== undefined && f.path !== path)) continue;
      if (f.kind === "drop" || f.kind === "stall") {
        if (out.cutAt === undefined && f.afterBytes >= start && f.afterBytes < end) {
          out.cutAt = f.afterBytes;
          out.cut = f.kind;
          a.left--;
        }
      } else if (f.kind === "corrupt") {
        if (f.offset < end && f.offset + f.length > start) {
          out.corrupt.push({ offset: f.offset, length: f.length });
          a.left--;
        }
      } else if (f.kind === "rate") {
        if (out.rate === undefined) {
          out.rate = f.bytesPerSecond;
          a.left--;
        }
      }
    }
    return out;
  }
}

function matchesStatus(a: Armed, route: Route, path: string | undefined): boolean {
  const f = a.fault;
  if (f.kind !== "status") return false;
  const r = f.route ?? "any";
  if (r !== "any" && r !== route) return false;
  if (f.path !== undefined && f.path !== path) return false;
  return true;
}
