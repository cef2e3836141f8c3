// The e2e harness's process runner: a command that exits without reading its standard input must
// resolve with its exit code, not fail the test with the pipe's EPIPE.
import { describe, expect, it } from "@jest/globals";
import { run } from "../e2e/lib/exec.ts";

describe("run", () => {
  it("resolves with the exit code when the command ignores its input", async () => {
    const input = "x".repeat(8 * 1024 * 1024);
    for (let i = 0; i < 5; i++) {
      await expect(run("true", [], { input })).resolves.toMatchObject({ code: 0 });
      await expect(run("false", [], { input })).resolves.toMatchObject({ code: 1 });
    }
  });

  it("passes the input to a command that reads it", async () => {
    await expect(run("wc", ["-c"], { input: "hello" })).resolves.toMatchObject({ code: 0, stdout: "5\n" });
  });
});
