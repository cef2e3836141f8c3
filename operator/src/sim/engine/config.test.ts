import { describe, expect, it } from "@jest/globals";
import { EngineArgvError, V4_FLASH_MAX_POSITION, detectEngine, parseEngineArgv, parseModelLen } from "./config.ts";
import { sglangApiKeyLauncher, vllmWorkerLauncher } from "../../render/launch.ts";

// The shapes operator/src/render/engine.ts and planner/args.ts produce.
const VLLM = [
  "vllm",
  "serve",
  "/models",
  "--served-model-name",
  "deepseek-ai/DeepSeek-V4-Flash",
  "--host",
  "0.0.0.0",
  "--port",
  "8000",
  "--tensor-parallel-size",
  "1",
  "--data-parallel-size",
  "4",
  "--enable-expert-parallel",
  "--max-model-len",
  "393216",
  "--kv-cache-dtype",
  "fp8",
  "--block-size",
  "256",
  "--trust-remote-code",
  "--tokenizer-mode",
  "deepseek_v4",
  "--gpu-memory-utilization",
  "0.9",
  "--max-num-seqs",
  "48",
  "--tool-call-parser",
  "deepseek_v4",
  "--enable-auto-tool-choice",
  "--compilation-config",
  '{"cudagraph_mode":"FULL_AND_PIECEWISE"}',
];
const SGLANG = [
  "python3",
  "-m",
  "sglang.launch_server",
  "--model-path",
  "/models/v4",
  "--served-model-name",
  "ds",
  "--host",
  "0.0.0.0",
  "--port",
  "8000",
  "--tp",
  "8",
  "--dp",
  "4",
  "--enable-dp-attention",
  "--ep-size",
  "8",
  "--context-length",
  "1048576",
  "--kv-cache-dtype",
  "fp8_e4m3",
  "--mem-fraction-static",
  "0.9",
  "--max-running-requests",
  "256",
  "--trust-remote-code",
  "--enable-metrics",
];

describe("parseEngineArgv", () => {
  it("reads what matters from a rendered vLLM command and ignores the rest", () => {
    const c = parseEngineArgv("vllm", VLLM);
    expect(c).toMatchObject({
      engine: "vllm",
      modelPath: "/models",
      servedModelNames: ["deepseek-ai/DeepSeek-V4-Flash"],
      maxModelLen: 393216,
      dataParallel: 4,
      tensorParallel: 1,
      expertParallel: true,
      maxSeqsPerRank: 48,
      blockSize: 256,
      autoToolChoice: true,
      toolCallParser: "deepseek_v4",
      headless: false,
      host: "0.0.0.0",
      port: 8000,
      metricsEnabled: true,
    });
  });

  it("lets the simulator's --max-num-seqs win and defaults what is absent", () => {
    expect(parseEngineArgv("vllm", VLLM, { maxNumSeqs: 3 }).maxSeqsPerRank).toBe(3);
    const bare = parseEngineArgv("vllm", ["vllm", "serve", "deepseek-ai/DeepSeek-V4-Flash"]);
    expect(bare).toMatchObject({
      servedModelNames: ["deepseek-ai/DeepSeek-V4-Flash"],
      maxModelLen: V4_FLASH_MAX_POSITION,
      dataParallel: 1,
      maxSeqsPerRank: 64,
      blockSize: 16,
      autoToolChoice: false,
    });
  });

  it("keeps a positional after a switch, takes several served names and = forms", () => {
    const c = parseEngineArgv("vllm", [
      "vllm",
      "serve",
      "--trust-remote-code",
      "/m",
      "--served-model-name",
      "a",
      "b",
      "--max_model_len=128k",
      "--headless",
    ]);
    expect(c.modelPath).toBe("/m");
    expect(c.servedModelNames).toEqual(["a", "b"]);
    expect(c.maxModelLen).toBe(128000);
    expect(c.headless).toBe(true);
  });

  it("reads SGLang's flags: --max-running-requests is split over DP ranks", () => {
    const c = parseEngineArgv("sglang", SGLANG);
    expect(c).toMatchObject({
      engine: "sglang",
      modelPath: "/models/v4",
      servedModelNames: ["ds"],
      maxModelLen: 1048576,
      dataParallel: 4,
      tensorParallel: 8,
      dpAttention: true,
      expertParallel: true,
      maxSeqsPerRank: 64,
      blockSize: 1,
      metricsEnabled: true,
      autoToolChoice: false,
    });
    expect(
      parseEngineArgv(
        "sglang",
        SGLANG.filter((a) => a !== "--enable-metrics"),
      ).metricsEnabled,
    ).toBe(false);
    expect(
      parseEngineArgv("sglang", ["python3", "-m", "sglang.launch_server", "--model-path", "x"]).servedModelNames,
    ).toEqual(["x"]);
  });

  it("rejects malformed numbers with the flag in the message", () => {
    expect(() => parseEngineArgv("vllm", ["vllm", "serve", "m", "--data-parallel-size", "four"])).toThrow(
      /--data-parallel-size/,
    );
    expect(() => parseEngineArgv("sglang", ["python3", "-m", "sglang.launch_server"])).toThrow(EngineArgvError);
  });
});

describe("parseModelLen", () => {
  it("follows vLLM's human-readable units", () => {
    expect(parseModelLen("f", "1k")).toBe(1000);
    expect(parseModelLen("f", "1K")).toBe(1024);
    expect(parseModelLen("f", "25.6k")).toBe(25600);
    expect(parseModelLen("f", "1M")).toBe(1048576);
    expect(parseModelLen("f", "auto")).toBe(V4_FLASH_MAX_POSITION);
    expect(() => parseModelLen("f", "lots")).toThrow(/token count/);
  });
});

describe("detectEngine", () => {
  it("recognises both launchers", () => {
    expect(detectEngine(VLLM)).toBe("vllm");
    expect(detectEngine(SGLANG)).toBe("sglang");
    expect(detectEngine(["/usr/bin/vllm", "serve", "m"])).toBe("vllm");
    expect(detectEngine(["--port", "1"])).toBeUndefined();
  });
});

describe("the operator's python3 -c launchers", () => {
  it("are read as the engine command they exec", () => {
    const worker = [...vllmWorkerLauncher(8), "vllm", "serve", "/models", "--served-model-name", "m"];
    expect(detectEngine(worker)).toBe("vllm");
    expect(parseEngineArgv("vllm", worker).servedModelNames).toEqual(["m"]);
    const keyed = [...sglangApiKeyLauncher(), "--model-path", "/models", "--served-model-name", "s"];
    expect(detectEngine(keyed)).toBe("sglang");
    expect(parseEngineArgv("sglang", keyed).servedModelNames).toEqual(["s"]);
  });
});
