import { describe, expect, it } from "@jest/globals";
import { runInNewContext } from "node:vm";
import { asError } from "./errors.ts";

describe("asError", () => {
  it("keeps an Error as it is, with its code, even from another realm", () => {
    const local = Object.assign(new Error("disk full"), { code: "ENOSPC" });
    expect(asError(local)).toBe(local);
    const foreign = runInNewContext('Object.assign(new Error("disk full"), { code: "ENOSPC" })') as Error;
    expect(foreign instanceof Error).toBe(false);
    expect(asError(foreign)).toBe(foreign);
  });

  it("wraps anything else in an Error that says what it was", () => {
    expect(asError("boom").message).toBe("boom");
    expect(asError(42)).toBeInstanceOf(Error);
  });
});
