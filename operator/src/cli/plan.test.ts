import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CliError } from "./errors.ts";
import { main } from "./plan.ts";

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const spy = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await main(argv), out };
  } finally {
    spy.mockRestore();
  }
}

async function failure(argv: string[]): Promise<CliError> {
  try {
    await run(argv);
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error(`expected ${argv.join(" ")} to fail`);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plan-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  jest.restoreAllMocks();
});

const deployment = (spec: string) => `apiVersion: serving.deepseek-operator.io/v1alpha1
kind: DeepSeekDeployment
metadata:
  name: flash
spec:
  model:
    revision: 60d8d70770c6776ff598c94bb586a859a38244f1
${spec}`;

describe("deepseek-operator plan", () => {
  it("prints a table with the summary, per-GPU memory in GiB, engine args and reason", async () => {
    const { code, out } = await run([]);
    expect(code).toBe(0);
    expect(out).toMatch(/^Plan: FEASIBLE/);
    expect(out).toMatch(/GPUs per replica\s+4 × H200 on 1 node/);
    expect(out).toMatch(
      /Per-GPU memory \(GiB\)\n\s+weights\s+43\.47\n\s+KV cache budget\s+78\.89\n\s+engine reserve\s+18\.04\n\s+GPU memory\s+140\.40/,
    );
    expect(out).toContain("--data-parallel-size 4");
    expect(out).toContain(`--compilation-config '{"cudagraph_mode":"FULL_AND_PIECEWISE","custom_ops":["all"]}'`);
    expect(out).toMatch(/\nReason\n {2}4 × H200/);
  });

  it("prints the Plan as JSON with --output json", async () => {
    const { code, out } = await run([
      "--gpu",
      "b200",
      "--max-model-len",
      "1048576",
      "--concurrency",
      "16",
      "-o",
      "json",
    ]);
    expect(code).toBe(0);
    const p = JSON.parse(out);
    expect(p).toMatchObject({
      feasible: true,
      gpuType: "B200",
      gpusPerReplica: 4,
      nodesPerReplica: 1,
      tensorParallel: 1,
      dataParallel: 4,
      expertParallel: true,
      kvCacheBytesPerToken: 3514,
    });
    expect(p.maxConcurrentSequences).toBeGreaterThanOrEqual(16);
    expect(p.engineArgs).toContain("--enable-expert-parallel");
    expect(typeof p.reason).toBe("string");
  });

  it("applies overrides and the offload tier from flags", async () => {
    const { out } = await run([
      "--gpus-per-replica",
      "8",
      "--tensor",
      "8",
      "--data",
      "1",
      "--no-expert",
      "--offload-tier",
      "cpu",
      "--offload-size",
      "512Gi",
      "-o",
      "json",
    ]);
    const p = JSON.parse(out);
    expect(p).toMatchObject({
      gpusPerReplica: 8,
      tensorParallel: 8,
      dataParallel: 1,
      expertParallel: false,
      kvOffload: { tier: "cpu", bytesPerReplica: 512 * 2 ** 30 },
    });
    expect(p.offloadedSequences).toBeGreaterThan(0);
  });

  it("exits 1 on an infeasible plan and still prints why", async () => {
    const { code, out } = await run(["--gpu", "MI300X", "-o", "json"]);
    expect(code).toBe(1);
    const p = JSON.parse(out);
    expect(p.feasible).toBe(false);
    expect(p.reason).toMatch(/does not serve .* on MI300X/);
    const table = await run(["--gpu", "H100", "--concurrency", "100"]);
    expect(table.code).toBe(1);
    expect(table.out).toMatch(/^Plan: INFEASIBLE/);
  });

  it("exits 2 naming the flag on bad flags", async () => {
    const cases: [string[], RegExp][] = [
      [["--tensor", "3"], /^--tensor: must be a power of two/],
      [["--concurrency", "many"], /^--concurrency: "many" is not a whole number/],
      [["--engine", "trtllm"], /^--engine: "trtllm" is not one of vllm, sglang/],
      [["--gpu", "A100"], /^--gpu: unknown gpu "A100"; known: H100/],
      [["--offload-tier", "cpu", "--offload-size", "lots"], /^--offload-size: "lots" is not a quantity/],
      [["--offload-tier", "cpu"], /--offload-tier needs --offload-size/],
      [
        ["--gpus-per-replica", "8", "--tensor", "2", "--data", "2"],
        /^--tensor: tensor \(2\) × data \(2\) = 4 must equal gpusPerReplica \(8\)/,
      ],
      [["--max-model-len", "2000000"], /^--max-model-len: must be an integer from 1 to 1048576/],
      [["--bogus"], /Unknown option '--bogus'/],
    ];
    for (const [argv, message] of cases) {
      const err = await failure(argv);
      expect(err.exitCode).toBe(2);
      expect(err.message).toMatch(message);
    }
  });

  it("reads a DeepSeekDeployment with -f and lets flags override it", async () => {
    const file = join(dir, "h100.yaml");
    await writeFile(
      file,
      deployment("  gpu:\n    type: H100\n  context:\n    maxModelLen: 1048576\n    targetConcurrency: 2\n"),
    );
    const fromFile = JSON.parse((await run(["-f", file, "-o", "json"])).out);
    expect(fromFile).toMatchObject({ feasible: true, gpuType: "H100", gpusPerReplica: 8 });
    expect(fromFile.engineArgs).toContain("--tool-call-parser");
    const overridden = JSON.parse((await run(["-f", file, "--gpu", "B200", "-o", "json"])).out);
    expect(overridden).toMatchObject({ gpuType: "B200", gpusPerReplica: 4 });
  });

  it("maps spec parallelism, offload and Flash-Max onto the planner input", async () => {
    const file = join(dir, "multi.yaml");
    await writeFile(
      file,
      deployment(
        "  gpu:\n    type: H100\n    count: 16\n  parallelism:\n    data: 16\n    expert: true\n    nodesPerReplica: 2\n" +
          "  reasoning:\n    mode: FlashMax\n  context:\n    maxModelLen: 524288\n    targetConcurrency: 16\n    offload:\n      tier: CPU\n      size: 256Gi\n",
      ),
    );
    const p = JSON.parse((await run(["-f", file, "-o", "json"])).out);
    expect(p).toMatchObject({
      gpusPerReplica: 16,
      nodesPerReplica: 2,
      dataParallel: 16,
      expertParallel: true,
      kvOffload: { tier: "cpu" },
    });
    expect(p.engineArgs).toContain("--reasoning-parser");
  });

  it("exits 2 with the spec field for an invalid or unreadable file", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, deployment("  context:\n    maxModelLen: 0\n"));
    expect((await failure(["-f", bad])).message).toMatch(/spec\.context\.maxModelLen must be at least 1/);
    const missing = await failure(["-f", join(dir, "nope.yaml")]);
    expect(missing.exitCode).toBe(2);
    expect(missing.message).toMatch(/^-f .*nope\.yaml: ENOENT/);
  });
});

it("runs through the launcher: ./bin/deepseek-operator plan --output json", async () => {
  const { stdout } = await promisify(execFile)(
    "./bin/deepseek-operator",
    ["plan", "--gpu", "h200", "--output", "json"],
    { cwd: process.cwd() },
  );
  expect(JSON.parse(stdout)).toMatchObject({ feasible: true, gpusPerReplica: 4 });
  await expect(
    promisify(execFile)("./bin/deepseek-operator", ["plan", "--tensor", "5"], { cwd: process.cwd() }),
  ).rejects.toMatchObject({ code: 2 });
});
