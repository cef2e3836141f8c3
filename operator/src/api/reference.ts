// The API reference (field, type, default, description, rules), generated from the same schema
// as the CRD so the docs cannot drift from what the apiserver enforces.
import { openApiSchema } from "./crd.ts";
import { walk, type JsonSchema } from "./json-schema.ts";

function typeOf(n: JsonSchema): string {
  if (n["x-kubernetes-preserve-unknown-fields"]) return "object (free-form)";
  if (Array.isArray(n.enum)) return (n.enum as unknown[]).map(String).join(" | ");
  if (n.type === "array") return `[]${typeOf((n.items as JsonSchema) ?? {})}`;
  if (n.type === "object" && n.additionalProperties) return "map[string]string";
  const bounds = [
    n.minimum !== undefined ? `≥${n.exclusiveMinimum ? " >" : ""}${n.minimum as number}` : "",
    n.maximum !== undefined ? `≤${n.maximum as number}` : "",
  ]
    .filter(Boolean)
    .join(", ");
  return `${String(n.type)}${bounds ? ` (${bounds})` : ""}`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function apiReferenceMarkdown(): string {
  const root = openApiSchema();
  const lines = ["| Field | Type | Default | Description |", "| --- | --- | --- | --- |"];
  const rules: string[] = [];
  for (const [path, node] of walk(root)) {
    for (const r of (node["x-kubernetes-validations"] as { message: string }[] | undefined) ?? [])
      rules.push(r.message);
    if (path === "" || path.startsWith("status") || path === "apiVersion" || path === "kind") continue;
    const def = node.default === undefined ? "" : `\`${JSON.stringify(node.default)}\``;
    const type =
      node.type === "array" && (node.items as JsonSchema | undefined)?.type === "object" ? "[]object" : typeOf(node);
    lines.push(
      `| \`${path}\` | ${cell(type)} | ${cell(def)} | ${cell(typeof node.description === "string" ? node.description : "")} |`,
    );
  }
  const status: string[] = ["| Field | Type | Description |", "| --- | --- | --- |"];
  for (const [path, node] of walk(root)) {
    if (!path.startsWith("status.")) continue;
    status.push(
      `| \`${path}\` | ${cell(node.type === "array" ? "[]object" : typeOf(node))} | ${cell(typeof node.description === "string" ? node.description : "")} |`,
    );
  }
  return [
    "### Spec",
    "",
    ...lines,
    "",
    "### Admission rules (CEL, enforced by the apiserver and again by the operator)",
    "",
    ...rules.map((r) => `- ${r}`),
    "",
    "### Status",
    "",
    ...status,
    "",
  ].join("\n");
}
