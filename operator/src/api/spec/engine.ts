import { z } from "zod";
import { envName, imageReference } from "../k8s-names.ts";
import { withRules } from "../rules.ts";

/** Env names the operator sets itself or the multi-node launcher reads: a user value would subvert them. */
export const RESERVED_ENV_PREFIXES = ["LWS_", "DSO_"] as const;
export const RESERVED_ENV_NAMES = ["VLLM_API_KEY"] as const;

const EnvVar = withRules(
  z
    .object({
      name: envName("Variable name."),
      value: z
        .string()
        .max(32768)
        .default("")
        .describe("Variable value, passed as is ($(VAR) references are not expanded)."),
    })
    .describe("One environment variable."),
  [
    {
      cel: `!(${RESERVED_ENV_PREFIXES.map((p) => `self.name.startsWith('${p}')`).join(" || ")} || self.name in [${RESERVED_ENV_NAMES.map((n) => `'${n}'`).join(", ")}])`,
      message: `spec.engine.env[].name must not start with ${RESERVED_ENV_PREFIXES.join(" or ")} nor be ${RESERVED_ENV_NAMES.join(", ")} (set by the operator; use spec.service.apiKeySecretRef for the API key)`,
      fieldPath: ".name",
      check: (e) =>
        !RESERVED_ENV_PREFIXES.some((p) => e.name.startsWith(p)) &&
        !(RESERVED_ENV_NAMES as readonly string[]).includes(e.name),
    },
  ],
);

export const EngineSpec = z
  .object({
    type: z.enum(["vllm", "sglang"]).default("vllm").describe("Serving engine."),
    image: imageReference("Engine container image; the model profile's default for the engine when unset.").optional(),
    extraArgs: z
      .array(
        z
          .string()
          .max(1024)
          .describe("One engine argument, e.g. --max-num-seqs=256; passed as one argv element, never through a shell."),
      )
      .max(64)
      .default([])
      .describe(
        "Arguments appended to the planned engine command line; a later flag overrides an earlier one in both engines.",
      ),
    env: z.array(EnvVar).max(64).default([]).describe("Extra environment variables for the engine container."),
    runAsUser: z
      .int()
      .min(1)
      .max(2147483647)
      .optional()
      .describe(
        "Run the engine as this non-root UID (the pods then meet the restricted Pod Security profile); the upstream engine images run as root by default. The image must work without root (HOME and caches are pointed at /tmp).",
      ),
    rdma: z
      .boolean()
      .optional()
      .describe(
        "The engine uses RDMA (InfiniBand/RoCE, GPUDirect) between nodes: adds the IPC_LOCK capability to pin memory. The namespace then needs the privileged Pod Security level; without it the pods meet baseline.",
      ),
  })
  .describe("The inference engine that serves the model.");
