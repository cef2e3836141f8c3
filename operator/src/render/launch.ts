// How an engine container starts without a shell. A user-supplied string (extraArgs, env values, the
// model name, a subPath) is only ever an argv element: no shell parses it, and the kubelet's own
// `$(VAR)` expansion is escaped so it cannot splice an environment variable (an API key) into an
// argument. Where a value must be computed in the pod (a worker's first data-parallel rank) or read
// from the environment (SGLang's API key), a fixed Python program does it and execs the engine with
// the argv it was given; the only values interpolated into those programs are integers the operator
// computed.

/**
 * A string the kubelet passes through unchanged. Kubernetes expands `$(NAME)` in a container's
 * command, args and env values and turns `$$` into `$`; doubling every `$` leaves the text as is.
 */
export function literalForKubelet(s: string): string {
  return s.split("$").join("$$");
}

/** Name of the env var that carries the API key to a launcher (never an argument). */
export const SGLANG_API_KEY_ENV = "DSO_SGLANG_API_KEY";
export const VLLM_API_KEY_ENV = "VLLM_API_KEY";

/**
 * A vLLM headless worker's first data-parallel rank is its LWS worker index times the local DP size.
 * The program refuses an index that is not a plain decimal (the env could be overridden) and execs
 * argv[1:] with the rank appended.
 */
export function vllmWorkerLauncher(localDp: number): string[] {
  if (!Number.isSafeInteger(localDp) || localDp < 1) throw new Error(`local DP size must be a positive integer`);
  const program = [
    "import os, re, sys",
    'i = os.environ.get("LWS_WORKER_INDEX", "")',
    'if not re.fullmatch("[0-9]{1,4}", i): sys.exit("LWS_WORKER_INDEX must be a worker index, got %r" % i)',
    `os.execvp(sys.argv[1], sys.argv[1:] + ["--data-parallel-start-rank", str(int(i) * ${localDp})])`,
  ].join("\n");
  return ["python3", "-c", program];
}

/**
 * SGLang reads its API key only from `--api-key`; this runs sglang.launch_server in-process with the
 * key appended to its sys.argv from the environment, so the key is in no process's command line.
 */
export function sglangApiKeyLauncher(): string[] {
  const program = [
    "import os, runpy, sys",
    `sys.argv = ["sglang.launch_server"] + sys.argv[1:] + ["--api-key", os.environ["${SGLANG_API_KEY_ENV}"]]`,
    'runpy.run_module("sglang.launch_server", run_name="__main__", alter_sys=True)',
  ].join("\n");
  return ["python3", "-c", program];
}
