// Structured logs (pino, JSON on stdout). Every log about an object carries its namespace/name.
import { pino, type Logger } from "pino";

export type { Logger };

const level = process.env.LOG_LEVEL ?? (process.env.JEST_WORKER_ID ? "silent" : "info");

export const rootLogger: Logger = pino({
  level,
  base: { component: "deepseek-operator" },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
});

export function setLogLevel(l: string): void {
  rootLogger.level = l;
}

/** A child logger for one Kubernetes object. */
export function objectLogger(
  parent: Logger,
  namespace: string | undefined,
  name: string,
  extra: Record<string, unknown> = {},
): Logger {
  return parent.child({ namespace, name, ...extra });
}
