// Kubernetes' own rules for the strings a DeepSeekDeployment passes through to its children (label
// and annotation keys, node-selector values, env names, Secret keys, image references, object names).
// Each is a zod schema whose pattern lands in the CRD as an OpenAPI `pattern` (or a CEL rule, for map
// keys), so the apiserver refuses at admission what it would otherwise refuse minutes later in a
// child object. The patterns are those of k8s.io/apimachinery/pkg/util/validation, written for RE2.
import { z } from "zod";
import type { CrossFieldRule } from "./rules.ts";
import { withRules } from "./rules.ts";

const LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
export const DNS1123_SUBDOMAIN = `^${LABEL}(\\.${LABEL})*$`;
/** prefix/name or name; the prefix a DNS subdomain (≤ 253, checked apart), the name ≤ 63. */
export const QUALIFIED_NAME = `^(${LABEL}(\\.${LABEL})*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`;
export const LABEL_VALUE = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";
export const C_IDENTIFIER = "^[A-Za-z_][A-Za-z0-9_]*$";
/** IsConfigMapKey: letters, digits, "-", "_" and "."; not ".", and not starting with "..". */
export const CONFIG_KEY = "^\\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$";
const DOMAIN_PART = "[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?";
/** A registry host is the first component only when it has a dot, a port or is localhost (as docker reads it). */
const REGISTRY = `(localhost(:[0-9]+)?|${DOMAIN_PART}(\\.${DOMAIN_PART})+(:[0-9]+)?|${DOMAIN_PART}:[0-9]+)/`;
const PATH_PART = "[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*";
/** The distribution reference grammar: [registry/]path[:tag][@sha256:digest]. */
export const IMAGE_REFERENCE = `^(${REGISTRY})?${PATH_PART}(/${PATH_PART})*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`;

const re = (p: string) => new RegExp(p);

export const dnsSubdomain = (description: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(re(DNS1123_SUBDOMAIN), { message: "must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')" })
    .describe(description);

export const labelValue = (description: string) =>
  z
    .string()
    .max(63)
    .regex(re(LABEL_VALUE), {
      message: "must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
    })
    .describe(description);

export const qualifiedName = (description: string, allowEmpty = false) =>
  z
    .string()
    .max(317)
    .regex(re(allowEmpty ? `^$|${QUALIFIED_NAME}` : QUALIFIED_NAME), {
      message: "must be a qualified name such as example.com/key",
    })
    .refine((k) => !k.includes("/") || k.indexOf("/") <= 253, { message: "the prefix must be at most 253 characters" })
    .describe(description);

export const envName = (description: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(re(C_IDENTIFIER), { message: "must be a C identifier (letters, digits and '_', not starting with a digit)" })
    .describe(description);

export const configKey = (description: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(re(CONFIG_KEY), {
      message: "must be a Secret key (letters, digits, '-', '_' and '.', not starting with '..')",
    })
    .describe(description);

export const imageReference = (description: string) =>
  z
    .string()
    .min(1)
    .max(512)
    .regex(re(IMAGE_REFERENCE), { message: "must be an image reference such as registry.example.com/vllm/vllm:v1" })
    .describe(description);

const qualifiedKeyCel = (k: string) =>
  `${k}.matches(r'${QUALIFIED_NAME}') && (!${k}.contains('/') || ${k}.indexOf('/') <= 253)`;
const QUALIFIED_RE = re(QUALIFIED_NAME);
const isQualified = (k: string) => QUALIFIED_RE.test(k) && (!k.includes("/") || k.indexOf("/") <= 253);

/**
 * A map whose keys are qualified names (labels, annotations, node selectors), with at most
 * `maxEntries` entries. Map keys have no OpenAPI pattern in a structural schema: a CEL rule checks them.
 */
export function qualifiedKeyMap<V extends z.ZodType>(
  field: string,
  value: V,
  description: string,
  maxEntries = 64,
): z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>> {
  const rules: CrossFieldRule<Record<string, unknown>>[] = [
    {
      cel: `self.all(k, ${qualifiedKeyCel("k")})`,
      message: `${field}: every key must be a qualified name such as example.com/key (an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.')`,
      check: (m) => Object.keys(m).every(isQualified),
    },
  ];
  const map = z
    .record(z.string(), value)
    .refine((m) => Object.keys(m).length <= maxEntries, { message: `${field}: at most ${maxEntries} entries` })
    .meta({ maxProperties: maxEntries })
    .describe(description);
  return withRules(map, rules) as unknown as z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>>;
}
