import { describe, expect, it } from "@jest/globals";
import { FINALIZER } from "../render/index.ts";
import { escapeFieldValue, finalizerPatch } from "./writer.ts";

describe("finalizerPatch", () => {
  const guard = { op: "test", path: "/metadata/uid", value: "u1" };
  it("creates the list when there is none, appends otherwise", () => {
    expect(finalizerPatch("u1", [], true)).toEqual([
      guard,
      { op: "add", path: "/metadata/finalizers", value: [FINALIZER] },
    ]);
    expect(finalizerPatch("u1", ["other"], true)).toEqual([
      guard,
      { op: "test", path: "/metadata/finalizers", value: ["other"] },
      { op: "add", path: "/metadata/finalizers/-", value: FINALIZER },
    ]);
  });
  it("removes exactly our entry, testing it is still at that index", () => {
    expect(finalizerPatch("u1", ["other", FINALIZER], false)).toEqual([
      guard,
      { op: "test", path: "/metadata/finalizers/1", value: FINALIZER },
      { op: "remove", path: "/metadata/finalizers/1" },
    ]);
  });
  it("changes nothing when the list is already as wanted", () => {
    expect(finalizerPatch("u1", [FINALIZER], true)).toEqual([guard]);
    expect(finalizerPatch("u1", ["other"], false)).toEqual([guard]);
  });
});

describe("escapeFieldValue", () => {
  it("escapes what a field selector gives meaning to, and nothing else", () => {
    expect(escapeFieldValue("deepseek-ai/DeepSeek-V4-Flash")).toBe("deepseek-ai/DeepSeek-V4-Flash");
    expect(escapeFieldValue("a,b=c\\d")).toBe("a\\,b\\=c\\\\d");
  });
});
