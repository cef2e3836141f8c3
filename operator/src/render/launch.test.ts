// No user-supplied string reaches a shell or the kubelet's $(VAR) expansion: the rendered engine
// commands are expanded the way the kubelet does (a port of k8s' third_party/forked/golang/expansion)
// and then really executed, with a stand-in engine that prints the argv it received.
import { describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { plan } from "../planner/index.ts";
import { planInputFromSpec } from "../reconcile/plan-input.ts";
import { aDsd } from "../reconcile/fixtures.ts";
import { renderEngine } from "./index.ts";
import { literalForKubelet } from "./launch.ts";

/** The kubelet's expansion of $(NAME) in command, args and env values; `$$` is a literal `$`. */
function kubeletExpand(input: string, env: Record<string, string>): string {
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== "$" || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let read: string;
    let advance = 1;
    if (rest[0] === "$") read = "$";
    else if (rest[0] === "(") {
      const close = rest.indexOf(")");
      if (close < 0) read = "$(";
      else {
        const name = rest.slice(1, close);
        read = name in env ? env[name]! : `$(${name})`;
        advance = close + 1;
      }
    } else read = `$${rest[0]}`;
    out += read;
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

const HOSTILE = [
  "$(id)",
  "$(VLLM_API_KEY)",
  "`id`",
  "; touch /tmp/pwned-by-extra-args",
  "a\nb",
  `'"quoted"'`,
  "$HOME",
  "$$(id)",
  "\\$(id)",
  "--x=$(LWS_LEADER_ADDRESS)",
];

const work = mkdtempSync(join(tmpdir(), "dso-launch-"));
const bin = join(work, "bin");
mkdirSync(bin);
// Stand-in engines: print their argv (without the program name) as JSON.
const printer = `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)));\n`;
for (const name of ["vllm"]) {
  writeFileSync(join(bin, name), printer);
  chmodSync(join(bin, name), 0o755);
}
mkdirSync(join(work, "py", "sglang"), { recursive: true });
writeFileSync(join(work, "py", "sglang", "__init__.py"), "");
writeFileSync(
  join(work, "py", "sglang", "launch_server.py"),
  "import json, sys\nif __name__ == '__main__':\n    sys.stdout.write(json.dumps(sys.argv[1:]))\n",
);

type Container = {
  command: string[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  securityContext: Record<string, unknown>;
};

function containerEnv(c: Container, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...extra };
  for (const e of c.env) if (e.value !== undefined) env[e.name] = kubeletExpand(e.value, env);
  return env;
}

/** Runs a rendered container's command as the kubelet would (no shell), with `engines` first on PATH. */
function run(c: Container, extraEnv: Record<string, string>) {
  const env = containerEnv(c, extraEnv);
  const argv = c.command.map((a) => kubeletExpand(a, env));
  const r = spawnSync(argv[0]!, argv.slice(1), {
    env: { ...env, PATH: `${bin}:${process.env.PATH ?? ""}`, PYTHONPATH: join(work, "py") },
    encoding: "utf8",
  });
  return { argv, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lwsDsd = (extraArgs: string[], env: { name: string; value: string }[] = []) =>
  aDsd("flash", {
    gpu: { type: "H100", count: 16 },
    parallelism: { data: 16, expert: true, nodesPerReplica: 2 },
    context: { targetConcurrency: 16 },
    engine: { extraArgs, env },
  });

function containers(dsd: ReturnType<typeof aDsd>) {
  const obj = renderEngine(dsd, plan(planInputFromSpec(dsd.spec)), { spareReplicaCapacity: false }, 1) as any;
  if (obj.kind === "Deployment") return { single: obj.spec.template.spec.containers[0] as Container };
  const t = obj.spec.leaderWorkerTemplate;
  return {
    leader: t.leaderTemplate.spec.containers[0] as Container,
    worker: t.workerTemplate.spec.containers[0] as Container,
  };
}

describe("literalForKubelet", () => {
  it("survives the kubelet's expansion unchanged, whatever the text", () => {
    const env = { VLLM_API_KEY: "secret", id: "ID" };
    for (const s of [...HOSTILE, "$", "$$", "$(", "a$", "$(unterminated"])
      expect(kubeletExpand(literalForKubelet(s), env)).toBe(s);
  });
});

describe("engine commands run no shell and pass hostile values through as data", () => {
  it("a vLLM worker gets the user's arguments verbatim and its data-parallel start rank", () => {
    const { worker } = containers(lwsDsd(HOSTILE));
    expect(worker!.command).not.toContain("sh");
    expect(worker!.command[0]).toBe("python3");
    const r = run(worker!, { LWS_WORKER_INDEX: "1", LWS_LEADER_ADDRESS: "leader.flash", VLLM_API_KEY: "secret" });
    expect(r.stderr).toBe("");
    const got = JSON.parse(r.stdout) as string[];
    expect(got.slice(0, 2)).toEqual(["serve", "/models"]);
    // Every hostile value arrives as one argument, exactly as written.
    const at = got.indexOf(HOSTILE[0]!);
    expect(got.slice(at, at + HOSTILE.length)).toEqual(HOSTILE);
    expect(got.join("\n")).not.toContain("secret");
    expect(got.slice(-3)).toEqual(["--headless", "--data-parallel-start-rank", "8"]);
    expect(got).toContain("leader.flash");
  });

  it("a worker refuses an LWS_WORKER_INDEX that is not a number instead of evaluating it", () => {
    const { worker } = containers(lwsDsd([]));
    for (const bad of ["$(id)", "1+1", "a[$(id)]", "", "1;id"]) {
      const r = run(worker!, { LWS_WORKER_INDEX: bad, LWS_LEADER_ADDRESS: "l" });
      expect({ bad, status: r.status, out: r.stdout }).toEqual({ bad, status: 1, out: "" });
    }
  });

  it("a single-node vLLM replica execs the engine directly with the values verbatim", () => {
    const { single } = containers(aDsd("flash", { engine: { extraArgs: HOSTILE } }));
    expect(single!.command.slice(0, 2)).toEqual(["vllm", "serve"]);
    const r = run(single!, { VLLM_API_KEY: "secret" });
    const got = JSON.parse(r.stdout) as string[];
    expect(got.slice(-HOSTILE.length)).toEqual(HOSTILE);
  });

  it("env values are not expanded: no $(VAR) can copy the API key into another variable", () => {
    const { single } = containers(
      aDsd("flash", {
        engine: { env: [{ name: "LEAK", value: "$(VLLM_API_KEY)" }] },
        service: { apiKeySecretRef: { name: "api" } },
      }),
    );
    const env = containerEnv(single!, { VLLM_API_KEY: "secret" });
    expect(env.LEAK).toBe("$(VLLM_API_KEY)");
    // The key comes from the Secret, listed after every user variable.
    expect(single!.env[single!.env.length - 1]).toEqual({
      name: "VLLM_API_KEY",
      valueFrom: { secretKeyRef: { name: "api", key: "api-key" } },
    });
  });

  it("SGLang gets its API key from the environment, never in a process's arguments", () => {
    const { single } = containers(
      aDsd("flash", {
        gpu: { type: "H200" },
        engine: { type: "sglang", extraArgs: HOSTILE },
        service: { apiKeySecretRef: { name: "api", key: "k" } },
      }),
    );
    const keyEnv = single!.env.find((e) => e.valueFrom !== undefined)!;
    expect(keyEnv).toEqual({ name: "DSO_SGLANG_API_KEY", valueFrom: { secretKeyRef: { name: "api", key: "k" } } });
    const r = run(single!, { DSO_SGLANG_API_KEY: "s3cret-key" });
    expect(r.stderr).toBe("");
    expect(r.argv.join(" ")).not.toContain("s3cret-key");
    const seen = JSON.parse(r.stdout) as string[];
    expect(seen.slice(-2)).toEqual(["--api-key", "s3cret-key"]);
    expect(seen).toEqual(expect.arrayContaining(HOSTILE));
  });

  it("an SGLang worker needs no launcher: the kubelet fills in its node rank", () => {
    const dsd = aDsd("flash", {
      gpu: { type: "H200", count: 16 },
      engine: { type: "sglang" },
      parallelism: { tensor: 16, nodesPerReplica: 2 },
    });
    const { worker } = containers(dsd);
    expect(worker!.command.slice(0, 3)).toEqual(["python3", "-m", "sglang.launch_server"]);
    expect(worker!.command).toContain("$(LWS_WORKER_INDEX)");
  });
});

describe("engine pod security", () => {
  it("drops every capability, forbids privilege escalation and mounts no ServiceAccount token", () => {
    const obj = renderEngine(aDsd(), plan(planInputFromSpec(aDsd().spec)), { spareReplicaCapacity: false }, 1) as any;
    const pod = obj.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toEqual({ seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("adds IPC_LOCK only for RDMA, and runs as non-root when a UID is given", () => {
    const dsd = aDsd("flash", { engine: { rdma: true, runAsUser: 1000 } });
    const pod = (renderEngine(dsd, plan(planInputFromSpec(dsd.spec)), { spareReplicaCapacity: false }, 1) as any).spec
      .template.spec;
    expect(pod.containers[0].securityContext.capabilities).toEqual({ drop: ["ALL"], add: ["IPC_LOCK"] });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
  });
});
