import { afterEach, beforeEach, describe, expect, it, jest } from "@jest/globals";
import { readFileSync } from "node:fs";
import { runCli } from "./main.ts";

const version = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

describe("deepseek-operator --version", () => {
  let out: string[];
  beforeEach(() => {
    out = [];
    jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it("prints the package version and exits 0", async () => {
    expect(await runCli(["--version"])).toBe(0);
    expect(out.join("")).toBe(`deepseek-operator ${version}\n`);
  });

  it("is listed in the usage", async () => {
    expect(await runCli(["--help"])).toBe(0);
    expect(out.join("")).toContain("deepseek-operator --version");
  });
});
