// Draining an engine pod before it stops, so a scale-down never cuts a request short. Once the pod is
// terminating the endpoints controller takes it out of the Service (no new requests); the preStop
// hook then waits until the engine reports no running or waiting request, for at most the drain
// grace period, and only then does the kubelet send SIGTERM. The hook is a fixed Python program (both
// engines' images have python3) with numbers only: no user string reaches it.
import { ENGINE_PORT } from "./probes.ts";

/** Seconds the engine gets after the drain to shut down on SIGTERM. */
const SHUTDOWN_SECONDS = 30;
/** Time for the endpoint removal to reach every proxy and load balancer before draining counts. */
const ENDPOINT_PROPAGATION_SECONDS = 5;

const BUSY = /^(vllm:num_requests_(running|waiting)|sglang:num_(running|queue)_reqs)[{ ]/.source;

/** `metricsUrl` and `settleSeconds` are the engine's and the propagation time; tests point them elsewhere. */
export function drainScript(
  drainSeconds: number,
  metricsUrl = `http://127.0.0.1:${ENGINE_PORT}/metrics`,
  settleSeconds = ENDPOINT_PROPAGATION_SECONDS,
): string {
  return [
    "import re, time, urllib.request",
    `deadline = time.time() + ${Math.max(0, Math.floor(drainSeconds))}`,
    `time.sleep(${settleSeconds})`,
    "def in_flight():",
    "    try:",
    `        text = urllib.request.urlopen('${metricsUrl}', timeout=5).read().decode()`,
    "    except Exception:",
    "        return 0",
    `    return sum(float(l.split()[-1]) for l in text.splitlines() if re.match(r'${BUSY}', l))`,
    "while time.time() < deadline:",
    "    n = in_flight()",
    "    if n <= 0:",
    "        break",
    "    print('draining: %d request(s) in flight' % n, flush=True)",
    "    time.sleep(2)",
  ].join("\n");
}

export function drainLifecycle(drainSeconds: number) {
  return { preStop: { exec: { command: ["python3", "-c", drainScript(drainSeconds)] } } };
}

export function terminationGraceSeconds(drainSeconds: number): number {
  return drainSeconds + ENDPOINT_PROPAGATION_SECONDS + SHUTDOWN_SECONDS;
}
