// Probes sized for a 160 GB model: loading weights, compiling kernels and capturing CUDA graphs
// can take most of an hour (Dynamo waits 3600 s; vLLM's PD recipe sets
// VLLM_ENGINE_READY_TIMEOUT_S=3600). The startup probe owns that window; liveness starts after it
// and is deliberately slow to kill a busy engine.
export const ENGINE_PORT = 8000;
const STARTUP_BUDGET_SECONDS = 3600;
const STARTUP_PERIOD = 10;

export function engineProbes(engine: "vllm" | "sglang") {
  const http = (path: string) => ({ httpGet: { path, port: "http" } });
  return {
    startupProbe: {
      ...http("/health"),
      periodSeconds: STARTUP_PERIOD,
      timeoutSeconds: 5,
      failureThreshold: STARTUP_BUDGET_SECONDS / STARTUP_PERIOD,
    },
    // SGLang's /health_generate runs a one-token generation: it exercises the GPU path.
    readinessProbe: {
      ...http(engine === "sglang" ? "/health_generate" : "/health"),
      periodSeconds: 10,
      timeoutSeconds: engine === "sglang" ? 25 : 5,
      failureThreshold: 3,
    },
    livenessProbe: { ...http("/health"), periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 10 },
  };
}
