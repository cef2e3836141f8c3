// Writes charts/deepseek-operator/values.schema.json from the zod schema in values.ts. The chart tests fail
// when the committed file differs from what this writes.
//   node operator/src/chart/generate-values-schema.ts
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { valuesJsonSchema } from "./values.ts";

export const VALUES_SCHEMA_PATH = fileURLToPath(
  new URL("../../../charts/deepseek-operator/values.schema.json", import.meta.url),
);

export function valuesSchemaJson(): string {
  return `${JSON.stringify(valuesJsonSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  await writeFile(VALUES_SCHEMA_PATH, valuesSchemaJson());
  process.stdout.write(`wrote ${VALUES_SCHEMA_PATH}\n`);
}
