import { z } from "zod";
import { secretKeyRef } from "../fields.ts";
import { dnsSubdomain } from "../k8s-names.ts";
import { withRules, type CrossFieldRule } from "../rules.ts";
import { DEFAULT_MODEL_ID } from "../../planner/profiles/models.ts";

export const DEFAULT_MODEL = DEFAULT_MODEL_ID;
const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** The CRD's format: uri accepts any scheme; this holds it to what the zod schema accepts. */
const httpUrlRule = <T>(field: string, get: (s: T) => string): CrossFieldRule<T> => ({
  cel: `isURL(self.${field}) && url(self.${field}).getScheme() in ['http', 'https'] && url(self.${field}).getHostname() != ''`,
  message: `must be an http(s) URL with a host`,
  fieldPath: `.${field}`,
  check: (s) => {
    try {
      const u = new URL(get(s));
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch {
      return false;
    }
  },
});

const HuggingFaceSource = withRules(
  z
    .object({
      endpoint: z
        .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
        .max(2048)
        .default("https://huggingface.co")
        .describe("Hub endpoint; point it at a mirror to download from inside your network."),
      tokenSecretRef: secretKeyRef(
        "Secret holding a Hugging Face access token (needed for gated or private repos).",
      ).optional(),
    })
    .describe("Download from the Hugging Face Hub (or a mirror that speaks its API)."),
  [
    {
      ...httpUrlRule<{ endpoint: string }>("endpoint", (s) => s.endpoint),
      message: "spec.model.source.huggingFace.endpoint must be an http(s) URL with a host",
    },
  ],
);

const UrlSource = withRules(
  z
    .object({
      baseURL: z
        .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
        .max(2048)
        .describe("Base URL serving the model files and a SHA256SUMS manifest listing them."),
      tokenSecretRef: secretKeyRef("Secret holding a bearer token for the base URL.").optional(),
    })
    .describe("Download from a plain HTTPS server (an object-store bucket, an internal mirror)."),
  [
    {
      ...httpUrlRule<{ baseURL: string }>("baseURL", (s) => s.baseURL),
      message: "spec.model.source.url.baseURL must be an http(s) URL with a host",
    },
  ],
);

const PvcSource = withRules(
  z
    .object({
      claimName: dnsSubdomain("Existing PersistentVolumeClaim that already holds the model files."),
      subPath: z
        .string()
        .min(1)
        .max(1024)
        // A NUL or newline is never part of a path the engine can open; the CRD gets the same pattern.
        // eslint-disable-next-line no-control-regex
        .regex(/^[^\x00\n]*$/, { message: "must not contain NUL or newline" })
        .optional()
        .describe("Folder inside the volume that holds the files; the root by default."),
    })
    .describe("Use weights already present on a PVC: they are verified, not downloaded."),
  [
    {
      cel: "!has(self.subPath) || (!self.subPath.startsWith('/') && !self.subPath.split('/').exists(p, p == '..'))",
      message: "spec.model.source.pvc.subPath must be a relative path inside the volume (no leading '/', no '..')",
      fieldPath: ".subPath",
      check: (p) => p.subPath === undefined || (!p.subPath.startsWith("/") && !p.subPath.split("/").includes("..")),
    },
  ],
);

const ModelSource = withRules(
  z
    .object({
      huggingFace: HuggingFaceSource.optional(),
      url: UrlSource.optional(),
      pvc: PvcSource.optional(),
    })
    .describe("Where the weights come from: exactly one of huggingFace, url or pvc."),
  [
    {
      cel: "[has(self.huggingFace), has(self.url), has(self.pvc)].filter(x, x).size() == 1",
      message: "spec.model.source: set exactly one of huggingFace, url or pvc",
      check: (s) => [s.huggingFace, s.url, s.pvc].filter((x) => x !== undefined).length === 1,
    },
  ],
);

export const RevisionPolicy = z
  .enum(["Pinned", "AllowBranch"])
  .default("Pinned")
  .describe(
    "Pinned (default) requires spec.model.revision to be a 40-character commit sha, so every replica and every " +
      "re-download serves the same bytes; AllowBranch accepts a branch or tag name.",
  );

export const ModelSpec = withRules(
  z
    .object({
      name: z
        .string()
        .max(96)
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, {
          message: "must be a repo id such as deepseek-ai/DeepSeek-V4-Flash",
        })
        .default(DEFAULT_MODEL)
        .describe("Hugging Face repo id of the model; selects the model profile used for planning."),
      revision: z
        .string()
        .min(1)
        .max(128)
        .regex(/^[A-Za-z0-9._/-]+$/, { message: "must be a commit sha, branch or tag" })
        .describe("Revision of the repo: a commit sha (required under the Pinned policy), or a branch or tag."),
      revisionPolicy: RevisionPolicy,
      source: ModelSource.default({ huggingFace: { endpoint: "https://huggingface.co" } }),
    })
    .describe("The model to serve and where its weights come from."),
  [
    {
      cel: "self.revisionPolicy != 'Pinned' || self.revision.matches('^[0-9a-f]{40}$')",
      message: "spec.model.revision must be a 40-character commit sha while spec.model.revisionPolicy is Pinned",
      fieldPath: ".revision",
      check: (m) => m.revisionPolicy !== "Pinned" || COMMIT_SHA.test(m.revision),
    },
  ],
);
