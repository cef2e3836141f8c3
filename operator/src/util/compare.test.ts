import { describe, expect, it } from "@jest/globals";
import { compareStrings } from "./compare.ts";

describe("compareStrings", () => {
  it("orders by code unit, whatever the locale: upper case before lower, punctuation before digits", () => {
    expect(["b", "a-1", "B", "a.1", "a", "A", "a1"].sort(compareStrings)).toEqual([
      "A",
      "B",
      "a",
      "a-1",
      "a.1",
      "a1",
      "b",
    ]);
    expect(compareStrings("x", "x")).toBe(0);
  });
});
