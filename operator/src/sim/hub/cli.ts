// `deepseek-operator simulate hub`: the Hub simulator as a standalone process, for the demo and benches.
// Prints one JSON line with its URLs once it listens, then serves until SIGINT/SIGTERM. Faults can be
// set at run time with POST /_sim/faults.
import { parseArgs } from "node:util";
import { CliError } from "../../cli/errors.ts";
import { rootLogger } from "../../util/log.ts";
import {
  V4_FLASH_REPO,
  V4_FLASH_REVISION,
  V4_FLASH_SHARDS,
  fakeCommit,
  uniformRepo,
  v4FlashShapedRepo,
} from "./repo.ts";
import { startHubServer } from "./server.ts";

const USAGE = `usage: deepseek-operator simulate hub [--port P] [--host 127.0.0.1] [--model ${V4_FLASH_REPO}]
       [--revision <sha>] [--files ${V4_FLASH_SHARDS}] [--file-size BYTES] [--shape v4-flash|uniform]
       [--token T] [--seed S] [--page-size N] [--no-redirect]`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string", default: "0" },
        host: { type: "string", default: "127.0.0.1" },
        model: { type: "string", default: V4_FLASH_REPO },
        revision: { type: "string" },
        files: { type: "string", default: String(V4_FLASH_SHARDS) },
        "file-size": { type: "string", default: String(1024 * 1024) },
        shape: { type: "string", default: "v4-flash" },
        token: { type: "string" },
        seed: { type: "string" },
        "page-size": { type: "string" },
        "no-redirect": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new CliError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  if (!/^127\.|^localhost$|^::1$/.test(values.host))
    throw new CliError("--host must be a loopback address: the simulator is for local tests");
  const files = int("files", values.files)!;
  const fileSize = int("file-size", values["file-size"])!;
  const model = values.model;
  if (!/^[^/\s]+\/[^/\s]+$/.test(model))
    throw new CliError(`--model must be <org>/<name>, got ${JSON.stringify(model)}`);
  let repo;
  if (values.shape === "v4-flash") {
    repo = v4FlashShapedRepo({
      shardSize: fileSize,
      shards: files,
      id: model,
      revision: values.revision ?? (model === V4_FLASH_REPO ? V4_FLASH_REVISION : fakeCommit(model)),
    });
  } else if (values.shape === "uniform") {
    repo = uniformRepo({ files, fileSize, id: model, ...(values.revision ? { revision: values.revision } : {}) });
  } else {
    throw new CliError(`--shape must be v4-flash or uniform, got ${JSON.stringify(values.shape)}`);
  }
  const log = rootLogger.child({ module: "hub-simulator" });
  log.info({ files: repo.files.length, bytes: files * fileSize }, "hashing simulated content");
  const server = await startHubServer({
    repos: [repo],
    host: values.host,
    port: int("port", values.port)!,
    redirectLfs: !values["no-redirect"],
    ...(values.token ? { token: values.token } : {}),
    ...(values.seed ? { seed: values.seed } : {}),
    ...(values["page-size"] ? { pageSize: int("page-size", values["page-size"])! } : {}),
  });
  log.info(
    {
      url: server.url,
      cdnUrl: server.cdnUrl,
      repo: repo.id,
      revision: repo.revision,
      plainUrl: server.plainUrl(repo.id),
    },
    "hub simulator listening",
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await server.close();
  return 0;
}
