// Reusable field schemas. Every field carries a description: it feeds `kubectl explain`, the
// generated API reference and the zod error messages.
import { z } from "zod";
import { configKey, dnsSubdomain } from "./k8s-names.ts";

/** Kubernetes resource quantity, restricted to the forms CEL's quantity() and storage sizes use. */
export const QUANTITY_PATTERN = "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";

export const quantity = (description: string) =>
  z
    .string()
    .max(32)
    .regex(new RegExp(QUANTITY_PATTERN), { message: "must be a quantity such as 200Gi or 1Ti" })
    .describe(description);

export const positiveInt = (description: string, max = 2147483647) =>
  z
    .int()
    .min(1, { message: "must be at least 1" })
    .max(max, { message: `must be at most ${max}` })
    .describe(description);

export const dnsLabel = (description: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: "must be a DNS-1123 label" })
    .describe(description);

/** An object whose contents the apiserver keeps as is (for example a core Affinity). */
export const opaqueObject = (description: string) =>
  z.record(z.string(), z.unknown()).describe(description).meta({ "x-kubernetes-preserve-unknown-fields": true });

export const secretKeyRef = (description: string, defaultKey = "token") =>
  z
    .object({
      name: dnsSubdomain("Name of the Secret in the DeepSeekDeployment's namespace."),
      key: configKey("Key within the Secret.").default(defaultKey),
    })
    .describe(description);
