// Runtime validation with the same rules the apiserver enforces, and messages that name the field.
import type { z } from "zod";
import { DeepSeekDeployment } from "./resource.ts";
import { DeepSeekDeploymentSpec } from "./spec/index.ts";

export interface FieldError {
  field: string;
  message: string;
}

function fieldName(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map((p) => (typeof p === "number" ? `[${p}]` : String(p)))]
    .filter(Boolean)
    .join(".")
    .replace(/\.\[/g, "[");
}

export function fieldErrors(error: z.ZodError, prefix = ""): FieldError[] {
  return error.issues.map((i) => {
    const field = fieldName(prefix, i.path);
    // Rule messages already start with the field; zod's own messages do not.
    const message =
      i.message.startsWith(field) || i.message.startsWith("spec.") || i.message.startsWith("metadata.")
        ? i.message
        : `${field}: ${i.message}`;
    return { field, message };
  });
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function parseDeepSeekDeployment(obj: unknown): ParseResult<z.output<typeof DeepSeekDeployment>> {
  const r = DeepSeekDeployment.safeParse(obj);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: fieldErrors(r.error) };
}

export function parseSpec(spec: unknown): ParseResult<z.output<typeof DeepSeekDeploymentSpec>> {
  const r = DeepSeekDeploymentSpec.safeParse(spec);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: fieldErrors(r.error, "spec") };
}
