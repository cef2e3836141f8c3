import { describe, expect, it } from "@jest/globals";
import { internedCount, internStrings } from "./intern.ts";

describe("internStrings", () => {
  it("leaves every value as it was, in nested objects and arrays", () => {
    const long = "4 × H200 (1 node) with DP4 data-parallel attention + expert parallelism; ".repeat(3);
    const make = () =>
      JSON.parse(
        JSON.stringify({
          status: {
            plan: { explanation: long, n: 4 },
            conditions: [{ type: "PlanValid", message: long }, { message: "short" }],
            list: [long, "x", 3, null],
          },
        }),
      );
    const a = make();
    const expected = make();
    internStrings(a);
    expect(a).toEqual(expected);
  });

  it("keeps one table entry per distinct long string, however many objects carry it", () => {
    const before = internedCount();
    const long = `${"plan ".repeat(20)}${Math.random()}`;
    for (let i = 0; i < 50; i++) internStrings(JSON.parse(JSON.stringify({ a: long, b: [long], c: "short" })));
    expect(internedCount()).toBe(before + 1);
  });

  it("stays bounded when every long string is different", () => {
    for (let i = 0; i < 20000; i++)
      internStrings({ m: `downloading revision ${i} of a model whose messages never repeat, e.g. with progress` });
    expect(internedCount()).toBeLessThanOrEqual(8192);
  });
});
