// Name lookup over the profile data, with errors that list what is known.
import { GPU_PROFILES } from "./profiles/gpus.ts";
import { MODEL_PROFILES } from "./profiles/models.ts";
import { SUPPORT_RULES } from "./profiles/support.ts";
import type { Engine, GpuProfile, ModelProfile, SupportRule, SupportStatus } from "./profiles/types.ts";

export class UnknownProfileError extends Error {
  readonly kind: "model" | "gpu" | "engine";
  readonly value: string;
  readonly known: readonly string[];
  constructor(kind: "model" | "gpu" | "engine", value: string, known: readonly string[]) {
    super(`unknown ${kind} "${value}"; known: ${known.join(", ")}`);
    this.name = "UnknownProfileError";
    this.kind = kind;
    this.value = value;
    this.known = known;
  }
}

export const knownModels = (): string[] => MODEL_PROFILES.map((m) => m.id);
export const knownGpus = (): string[] => GPU_PROFILES.map((g) => g.id);

/** Hugging Face resolves repo ids case-insensitively, so do we. */
export function resolveModel(name: string): ModelProfile {
  const wanted = name.trim().toLowerCase();
  const found = MODEL_PROFILES.find((m) => m.id.toLowerCase() === wanted);
  if (!found) throw new UnknownProfileError("model", name, knownModels());
  return found;
}

/** Accepts the id ("h200"), an alias, or a node-label value ("NVIDIA-H200"), case-insensitively. */
export function resolveGpu(name: string): GpuProfile {
  const wanted = name.trim().toLowerCase();
  const found = GPU_PROFILES.find(
    (g) =>
      g.id.toLowerCase() === wanted ||
      g.aliases.some((a) => a.toLowerCase() === wanted) ||
      g.nodeLabel.values.some((v) => v.toLowerCase() === wanted),
  );
  if (!found) throw new UnknownProfileError("gpu", name, knownGpus());
  return found;
}

export type ResolvedSupport = Omit<SupportRule, "status"> & { status: SupportStatus | "experimental" };

/** The recipe rule for this combination, or an "experimental" TP-only stand-in when no source covers it. */
export function supportFor(engine: Engine, gpu: GpuProfile, model: ModelProfile): ResolvedSupport {
  const rule = SUPPORT_RULES.find((r) => r.engine === engine && r.gpus.includes(gpu.id) && r.models.includes(model.id));
  if (rule) return rule;
  return {
    engine,
    gpus: [gpu.id],
    models: [model.id],
    status: "experimental",
    modes: ["tp"],
    source: `no published recipe runs ${model.id} on ${gpu.id} with ${engine}`,
  };
}
