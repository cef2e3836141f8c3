import { describe, expect, it } from "@jest/globals";
import { isSubset } from "./subset.ts";

describe("isSubset", () => {
  it("ignores fields the apiserver added", () => {
    expect(isSubset({ spec: { replicas: 2 } }, { spec: { replicas: 2, paused: false }, status: {} })).toBe(true);
  });
  it("sees a changed field", () => {
    expect(isSubset({ spec: { replicas: 2 } }, { spec: { replicas: 3 } })).toBe(false);
  });
  it("sees a removed list element and a reordered list", () => {
    expect(isSubset({ args: ["a", "b"] }, { args: ["a"] })).toBe(false);
    expect(isSubset({ args: ["a", "b"] }, { args: ["b", "a"] })).toBe(false);
  });
  it("treats number and string forms of a quantity as equal", () => {
    expect(isSubset({ limits: { "nvidia.com/gpu": "4" } }, { limits: { "nvidia.com/gpu": 4 } })).toBe(true);
  });
  it("sees a missing object", () => {
    expect(isSubset({ a: { b: 1 } }, {})).toBe(false);
  });
});
