// Entry point of the `deepseek-operator` CLI: one subcommand per module, loaded on demand so
// `plan` or `weights pull` start without pulling in the controller's dependencies.
import module from "node:module";
import pkg from "../../../package.json" with { type: "json" };
import { CliError } from "./errors.ts";

// Compiled (type-stripped) modules are cached on disk (NODE_COMPILE_CACHE, else the temp dir): it
// halves the start of every command, which a weights Job or an operator restart pays each time.
// Only modules loaded after this line are cached, hence the lazy subcommands below.
module.enableCompileCache?.();

type Command = {
  summary: string;
  load: () => Promise<{ main(argv: string[]): Promise<number> }>;
  /** libuv threadpool size, unless UV_THREADPOOL_SIZE says otherwise; read once, at its first use. */
  threadpool?: number;
  /**
   * The process ends as soon as the command returns, without Node's teardown of the heap and of worker
   * threads, which a weights Job would otherwise wait for at exit. Only for commands whose return means done:
   * a simulator's returns once it listens.
   */
  exitOnReturn?: boolean;
};

const commands: Record<string, Command> = {
  // A leader that lost its lease must be gone at once, not once its last timer or socket has closed.
  run: {
    summary: "run the operator (controllers, leader election, metrics)",
    load: () => import("./run.ts"),
    exitOnReturn: true,
  },
  plan: { summary: "plan GPUs, parallelism and KV cache for a DeepSeekDeployment", load: () => import("./plan.ts") },
  // Direct writes block a pool thread each until the device has the bytes: 8 connections want 8 writes
  // in flight, plus reads for hashing (the default pool has 4 threads).
  weights: {
    summary: "weights pull: download and verify model weights",
    load: () => import("./weights.ts"),
    threadpool: 16,
    exitOnReturn: true,
  },
  simulate: { summary: "run simulators (engine, hub) for tests and the demo", load: () => import("./simulate.ts") },
  crds: { summary: "print the generated CustomResourceDefinition", load: () => import("./crds.ts") },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return (
    `usage: deepseek-operator <command> [flags]\n       deepseek-operator --version\n\n` +
    `commands:\n${lines.join("\n")}\n`
  );
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "version") {
    process.stdout.write(`deepseek-operator ${pkg.version}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`deepseek-operator: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (command.threadpool) process.env.UV_THREADPOOL_SIZE ??= String(command.threadpool);
  try {
    const mod = await command.load();
    return await mod.main(rest);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`deepseek-operator ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  runCli(argv).then(
    (code) => {
      process.exitCode = code;
      // process.exit still runs 'exit' listeners: pino's flushes what the logger has not written yet.
      if (commands[argv[0] ?? ""]?.exitOnReturn) process.exit();
    },
    (err: unknown) => {
      process.stderr.write(`deepseek-operator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
