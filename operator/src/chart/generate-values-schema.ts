// The chart's values.schema.json from the zod schema in values.ts. `make crds` (operator/src/cli/generate.ts)
// writes it; the unit test generate.test.ts fails when the committed file differs.
import { fileURLToPath } from "node:url";
import { valuesJsonSchema } from "./values.ts";

export const VALUES_SCHEMA_PATH = fileURLToPath(
  new URL("../../../charts/deepseek-operator/values.schema.json", import.meta.url),
);

export function valuesSchemaJson(): string {
  return `${JSON.stringify(valuesJsonSchema(), null, 2)}\n`;
}
