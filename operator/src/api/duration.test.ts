import { describe, expect, it } from "@jest/globals";
import { formatDuration } from "./duration.ts";

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [12.2, "13s"],
    [59, "59s"],
    [60, "1m"],
    [150, "2m30s"],
    [599, "9m59s"],
    [12 * 60 + 59, "12m"],
    [3600, "1h"],
    [3900, "1h5m"],
    [23 * 3600 + 59 * 60, "23h59m"],
    [24 * 3600, "1d"],
    [51 * 3600 + 10, "2d3h"],
    [-5, "0s"],
  ])("%p s reads %p", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
