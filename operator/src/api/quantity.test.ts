// Quantities as the apiserver accepts them for sizes. client-node's quantityToScalar is not used here:
// it parses "1.5Gi" with BigInt("1.5") and throws, and returns a bigint for suffixed values.
import { describe, expect, it } from "@jest/globals";
import { bytesToGi, parseQuantity } from "./quantity.ts";

describe("parseQuantity", () => {
  it.each([
    ["200Gi", 200 * 2 ** 30],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["176G", 176e9],
    ["1Ti", 2 ** 40],
    ["512", 512],
    [" 10Mi ", 10 * 2 ** 20],
  ])("reads %j as %d bytes", (q, bytes) => {
    expect(parseQuantity(q)).toBe(bytes);
  });

  it("rounds a fractional byte count up, so a size never shrinks", () => {
    expect(parseQuantity("0.5k")).toBe(500);
    expect(parseQuantity("1.0000001Ki")).toBe(1025);
  });

  it.each(["", "Gi", "10gi", "1e3", "-5Gi", "10 Gi", "100m"])("refuses %j, naming it", (q) => {
    expect(() => parseQuantity(q)).toThrow(`"${q}" is not a quantity`);
  });
});

describe("bytesToGi", () => {
  it("gives the smallest whole Gi that holds the bytes", () => {
    expect(bytesToGi(2 ** 30)).toBe("1Gi");
    expect(bytesToGi(2 ** 30 + 1)).toBe("2Gi");
    expect(bytesToGi(parseQuantity(bytesToGi(159.6e9)))).toBe(bytesToGi(159.6e9));
  });
});
