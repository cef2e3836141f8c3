import { describe, expect, it } from "@jest/globals";
import { nowRfc3339, setCondition } from "./conditions.ts";

const t0 = new Date("2026-11-28T10:00:00.750Z");
const t1 = new Date("2026-11-28T11:00:00Z");

describe("setCondition (meta.SetStatusCondition semantics)", () => {
  it("stamps a new condition with whole seconds", () => {
    const [c] = setCondition([], { type: "Ready", status: "False", reason: "Loading", message: "0/1" }, 3, t0);
    expect(c).toEqual({
      type: "Ready",
      status: "False",
      reason: "Loading",
      message: "0/1",
      observedGeneration: 3,
      lastTransitionTime: "2026-11-28T10:00:00Z",
    });
    expect(nowRfc3339(t0)).toBe("2026-11-28T10:00:00Z");
  });

  it("keeps lastTransitionTime when only reason, message or generation change", () => {
    const a = setCondition([], { type: "Ready", status: "False", reason: "Loading", message: "0/1" }, 1, t0);
    const b = setCondition(a, { type: "Ready", status: "False", reason: "Degraded", message: "crash" }, 2, t1);
    expect(b[0]).toMatchObject({
      reason: "Degraded",
      message: "crash",
      observedGeneration: 2,
      lastTransitionTime: "2026-11-28T10:00:00Z",
    });
  });

  it("moves lastTransitionTime when the status changes", () => {
    const a = setCondition([], { type: "Ready", status: "False", reason: "Loading", message: "" }, 1, t0);
    const b = setCondition(a, { type: "Ready", status: "True", reason: "Serving", message: "" }, 1, t1);
    expect(b[0]!.lastTransitionTime).toBe("2026-11-28T11:00:00Z");
  });

  it("keeps other conditions, sorted by type, and truncates huge messages", () => {
    const a = setCondition([], { type: "WeightsReady", status: "True", reason: "Verified", message: "" }, 1, t0);
    const b = setCondition(
      a,
      { type: "Degraded", status: "False", reason: "AsExpected", message: "x".repeat(40000) },
      1,
      t0,
    );
    expect(b.map((c) => c.type)).toEqual(["Degraded", "WeightsReady"]);
    expect(b[0]!.message.length).toBe(32768);
  });
});
