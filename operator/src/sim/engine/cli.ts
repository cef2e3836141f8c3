// `deepseek-operator simulate engine`: run the engine simulator in place of the real engine. The part
// after `--` is the engine command line the operator rendered; the simulator's own flags come before.
// Logs one JSON line when loading starts and one when the engine is up; serves until SIGINT/SIGTERM.
import { parseArgs } from "node:util";
import { CliError } from "../../cli/errors.ts";
import { rootLogger } from "../../util/log.ts";
import { EngineArgvError, detectEngine, type EngineKind } from "./config.ts";
import { startEngineSimulator, type EngineSimulatorOptions } from "./server.ts";

const USAGE = `usage: deepseek-operator simulate engine [--engine vllm|sglang] [--host 127.0.0.1] [--port P]
       [--load-seconds S] [--warmup-seconds S] [--tokens-per-second-per-seq N]
       [--prefill-tokens-per-second N] [--batch-slowdown F] [--max-num-seqs N] [--kv-blocks N]
       [--default-output-tokens N] [--tick-ms N] -- <engine argv, e.g. vllm serve /models --served-model-name …>`;

function num(name: string, v: string | undefined, opts: { integer?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || n < (opts.min ?? 0)) {
    throw new CliError(
      `--${name} must be a${opts.integer ? "n integer" : " number"} >= ${opts.min ?? 0}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        engine: { type: "string" },
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string" },
        "load-seconds": { type: "string" },
        "warmup-seconds": { type: "string" },
        "tokens-per-second-per-seq": { type: "string" },
        "prefill-tokens-per-second": { type: "string" },
        "batch-slowdown": { type: "string" },
        "max-num-seqs": { type: "string" },
        "kv-blocks": { type: "string" },
        "default-output-tokens": { type: "string" },
        "tick-ms": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  // Everything after `--` arrives as positionals; anything before it would be a stray word.
  const dashdash = argv.indexOf("--");
  const engineArgv = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  if (positionals.length !== engineArgv.length)
    throw new CliError(
      `unexpected argument ${JSON.stringify(positionals[0])}; put the engine command line after --\n${USAGE}`,
    );
  const engine = (values.engine ?? detectEngine(engineArgv) ?? "vllm") as EngineKind;
  if (engine !== "vllm" && engine !== "sglang")
    throw new CliError(`--engine must be vllm or sglang, got ${JSON.stringify(values.engine)}`);

  const opts: EngineSimulatorOptions = { engine, argv: engineArgv, host: values.host };
  const set = <K extends keyof EngineSimulatorOptions>(k: K, v: EngineSimulatorOptions[K] | undefined) => {
    if (v !== undefined) opts[k] = v;
  };
  set("port", num("port", values.port, { integer: true }));
  set("loadSeconds", num("load-seconds", values["load-seconds"]));
  set("warmupSeconds", num("warmup-seconds", values["warmup-seconds"]));
  set("tokensPerSecondPerSeq", num("tokens-per-second-per-seq", values["tokens-per-second-per-seq"], { min: 0.001 }));
  set("prefillTokensPerSecond", num("prefill-tokens-per-second", values["prefill-tokens-per-second"], { min: 0.001 }));
  set("batchSlowdown", num("batch-slowdown", values["batch-slowdown"]));
  set("maxNumSeqs", num("max-num-seqs", values["max-num-seqs"], { integer: true, min: 1 }));
  set("kvBlocks", num("kv-blocks", values["kv-blocks"], { integer: true, min: 1 }));
  set("defaultOutputTokens", num("default-output-tokens", values["default-output-tokens"], { integer: true, min: 1 }));
  set("tickMs", num("tick-ms", values["tick-ms"], { min: 1 }));

  let sim;
  try {
    sim = await startEngineSimulator(opts);
  } catch (err) {
    if (err instanceof EngineArgvError || err instanceof RangeError) throw new CliError(err.message, 1);
    throw err;
  }
  const stop = new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  const outcome = await Promise.race([
    sim.ready.then(
      () => "up",
      (err: unknown) => err,
    ),
    stop,
  ]);
  if (outcome instanceof Error) {
    await sim.close();
    throw new CliError(outcome.message, 1);
  }
  if (outcome === "up") {
    const signal = await stop;
    // Like the engines' graceful shutdown: requests in flight finish; the kubelet's grace period bounds it.
    if (signal === "SIGTERM") {
      rootLogger.info({ url: sim.url }, "engine simulator draining");
      await sim.drain();
    }
  }
  rootLogger.info({ url: sim.url }, "engine simulator stopping");
  await sim.close();
  return 0;
}
