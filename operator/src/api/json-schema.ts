// zod → Kubernetes structural OpenAPI v3. zod's "openapi-3.0" output is close; these fixes make
// it something a real apiserver accepts (see libraries.md §5 for each rule's origin).
import { z } from "zod";

export type JsonSchema = { [k: string]: unknown };

const INT32_MAX = 2147483647;

function fix(node: JsonSchema): JsonSchema {
  delete node.$schema;
  if (node["x-kubernetes-preserve-unknown-fields"] === true) {
    // An opaque object: the apiserver keeps it as is, so it must not also list properties.
    delete node.properties;
    delete node.additionalProperties;
    delete node.required;
  }
  if (node.type === "integer") {
    // zod's z.int() bounds every integer to ±(2^53 - 1); the CRD keeps the upper bound so that a value
    // the apiserver stores is one the operator can read (an int64 beyond 2^53 would pass admission and
    // then fail the operator's parse).
    if (node.minimum === -Number.MAX_SAFE_INTEGER) delete node.minimum;
    if (node.format === undefined) {
      node.format = typeof node.maximum === "number" && node.maximum <= INT32_MAX ? "int32" : "int64";
    }
  }
  if (node.type === "string" && node.format === "uri") {
    // zod adds a JS-only pattern for URLs; the format is enough and RE2 must compile patterns.
    delete node.pattern;
  }
  for (const key of ["properties"] as const) {
    const props = node[key] as Record<string, JsonSchema> | undefined;
    if (props) for (const v of Object.values(props)) fix(v);
  }
  if (node.items && typeof node.items === "object") fix(node.items as JsonSchema);
  if (node.additionalProperties && typeof node.additionalProperties === "object")
    fix(node.additionalProperties as JsonSchema);
  return node;
}

/** Structural OpenAPI v3 schema of a zod schema, with defaults as the apiserver applies them. */
export function toStructuralSchema(schema: z.ZodType): JsonSchema {
  const raw = z.toJSONSchema(schema, {
    target: "openapi-3.0",
    io: "input",
    unrepresentable: "throw",
    cycles: "throw",
    reused: "inline",
  });
  return fix(raw);
}

/** Every node of a schema with its dotted path, for checks and for the API reference. */
export function* walk(node: JsonSchema, path = ""): Generator<[string, JsonSchema]> {
  yield [path, node];
  const props = node.properties as Record<string, JsonSchema> | undefined;
  if (props) for (const [k, v] of Object.entries(props)) yield* walk(v, path ? `${path}.${k}` : k);
  if (node.items && typeof node.items === "object") yield* walk(node.items as JsonSchema, `${path}[]`);
}
