// A cross-field rule is written once and enforced twice: as a CEL x-kubernetes-validation that the
// apiserver runs at admission, and as a zod refinement that the operator, the CLI and the unit tests
// run. Keeping both in one object is what stops the two from drifting apart.
import type { z } from "zod";

export interface CrossFieldRule<T> {
  /** CEL expression over `self` (the object the rule is attached to). */
  cel: string;
  /** Message shown by kubectl and by the zod check; it names the field. */
  message: string;
  /** Where the apiserver reports the failure, relative to the object, e.g. ".maxOutputTokens". */
  fieldPath?: string;
  /** The same predicate in TypeScript, over zod's output (defaults applied, as CEL sees them). */
  check: (self: T) => boolean;
}

export interface CelValidation {
  rule: string;
  message: string;
  fieldPath?: string;
}

function fieldPathToZodPath(fieldPath: string | undefined): PropertyKey[] {
  if (!fieldPath) return [];
  return fieldPath.split(".").filter((p) => p.length > 0);
}

/** Attach rules to a zod object schema: as refinements for zod and as CEL metadata for the CRD. */
export function withRules<S extends z.ZodType>(schema: S, rules: CrossFieldRule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      // zod runs these even when a field inside already failed (a size that is not a quantity); a
      // check that cannot evaluate refuses, as a CEL rule that errors at runtime refuses at admission.
      let ok: boolean;
      try {
        ok = r.check(value);
      } catch {
        ok = false;
      }
      if (!ok) ctx.addIssue({ code: "custom", message: r.message, path: fieldPathToZodPath(r.fieldPath) });
    }
  });
  const validations: CelValidation[] = rules.map((r) => ({
    rule: r.cel,
    message: r.message,
    ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
  }));
  const existing = (schema.meta() ?? {}) as Record<string, unknown>;
  return refined.meta({ ...existing, "x-kubernetes-validations": validations });
}

/** CEL for "this optional field, or a default when absent". */
export function celOr(path: string, field: string, fallback: string): string {
  return `(has(${path}.${field}) ? ${path}.${field} : ${fallback})`;
}

export const POWERS_OF_TWO = [1, 2, 4, 8, 16, 32, 64] as const;
export const isPowerOfTwo = (n: number): boolean => (POWERS_OF_TWO as readonly number[]).includes(n);
