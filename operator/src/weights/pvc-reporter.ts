// Reports progress onto the weights PersistentVolumeClaim as annotations (a JSON merge patch), where
// the controller reads it. The PVC stands for the weights of one (model, revision): every
// DeepSeekDeployment using them sees the same progress, and it outlives any one of them.
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  ANNOTATION_PROGRESS,
  ANNOTATION_VERIFIED,
  FIELD_MANAGER,
  formatProgressAnnotation,
  type ProgressReport,
} from "../api/weights-contract.ts";
import type { Reporter } from "./progress.ts";
import { WeightsError } from "./errors.ts";

/** How hard the reporter tries to set or clear the verified mark before the run fails. */
export interface MarkRetry {
  attempts: number;
  /** First backoff; doubles up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
}

const DEFAULT_MARK_RETRY: MarkRetry = { attempts: 8, backoffMs: 500, maxBackoffMs: 8000 };

/**
 * The merge patch for one report. `verified`: a revision sets the weights-verified annotation, null
 * removes it (a run that is about to change files), undefined leaves it alone.
 */
export function buildPvcPatch(
  report: ProgressReport,
  verified: string | null | undefined,
): { metadata: { annotations: Record<string, string | null> } } {
  const annotations: Record<string, string | null> = { [ANNOTATION_PROGRESS]: formatProgressAnnotation(report) };
  if (verified !== undefined) annotations[ANNOTATION_VERIFIED] = verified;
  return { metadata: { annotations } };
}

/** "namespace/name" → its parts. */
export function parsePvcRef(ref: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(ref);
  if (!m)
    throw new Error(`--report-pvc must be <namespace>/<name> of a PersistentVolumeClaim, got ${JSON.stringify(ref)}`);
  return { namespace: m[1]!, name: m[3]! };
}

/** In-cluster credentials by default (the Job's service account); KUBECONFIG when set. */
export function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  if (process.env.KUBECONFIG) kc.loadFromDefault();
  else kc.loadFromCluster();
  return kc;
}

export class PvcReporter implements Reporter {
  private readonly api: CoreV1Api;
  private readonly namespace: string;
  private readonly name: string;
  private readonly log: Logger;
  private failures = 0;
  private readonly markRetry: MarkRetry;

  constructor(kc: KubeConfig, ref: { namespace: string; name: string }, log: Logger, markRetry = DEFAULT_MARK_RETRY) {
    this.markRetry = markRetry;
    this.api = kc.makeApiClient(CoreV1Api);
    this.namespace = ref.namespace;
    this.name = ref.name;
    this.log = log.child({ namespace: ref.namespace, name: ref.name, kind: "PersistentVolumeClaim" });
  }

  /**
   * Progress is best effort: a download must not fail because the API server is briefly
   * unreachable. The verified mark is not: it is what lets engines start (set) and what stops them
   * from starting on files being changed (cleared). A mark that cannot be written after retries
   * fails the run with a transient error, so the Job runs again (the files on disk are kept and only
   * checked) instead of completing with the PVC unmarked.
   */
  async report(report: ProgressReport, verified?: string | null): Promise<void> {
    if (verified === undefined) {
      await this.patch(report, undefined).catch((err: unknown) => this.warn(err));
      return;
    }
    let backoff = this.markRetry.backoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.patch(report, verified);
        return;
      } catch (err) {
        this.warn(err);
        if (attempt >= this.markRetry.attempts)
          throw new WeightsError(
            "NetworkError",
            `could not ${verified === null ? "clear" : "set"} the weights-verified mark on PVC ` +
              `${this.namespace}/${this.name} after ${attempt} attempts: ${(err as Error).message}`,
            { cause: err },
          );
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(this.markRetry.maxBackoffMs, backoff * 2);
      }
    }
  }

  private async patch(report: ProgressReport, verified: string | null | undefined): Promise<void> {
    await this.api.patchNamespacedPersistentVolumeClaim(
      {
        name: this.name,
        namespace: this.namespace,
        body: buildPvcPatch(report, verified),
        fieldManager: FIELD_MANAGER,
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    this.failures = 0;
  }

  private warn(err: unknown): void {
    this.failures++;
    // Log the first failure and then every tenth, so a long outage does not flood the log.
    if (this.failures === 1 || this.failures % 10 === 0) {
      const code = (err as { code?: number }).code;
      this.log.warn(
        { err: (err as Error).message, code, failures: this.failures },
        "could not patch progress onto the weights PVC",
      );
    }
  }
}
