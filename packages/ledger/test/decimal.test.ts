import { describe, expect, it } from "vitest";
import { sumDecimals } from "../src/decimal.js";

describe("sumDecimals", () => {
  it("adds decimal strings exactly, at the largest scale given", () => {
    expect(sumDecimals(["0.1", "0.2"])).toBe("0.3");
    expect(sumDecimals(["100", "-100.00"])).toBe("0.00");
    expect(sumDecimals(["-171.5", "100", "-30.25"])).toBe("-101.75");
    expect(sumDecimals(["12345678901234567890.12", "0.01", null])).toBe("12345678901234567890.13");
    expect(sumDecimals([])).toBe("0");
    expect(() => sumDecimals(["1e5"])).toThrow(/not a decimal/);
  });
});
