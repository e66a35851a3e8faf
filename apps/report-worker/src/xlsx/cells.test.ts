import { describe, expect, it } from "vitest";
import { columnLetters, dateSerial, escapeText, MAX_CELL_CHARS, textCell } from "./cells.js";
import { cleanSheetName, SheetNames } from "./sheet-names.js";

describe("escapeText", () => {
  it("escapes markup and leaves plain text as it is", () => {
    expect(escapeText("a < b & c > d")).toBe("a &lt; b &amp; c &gt; d");
    expect(escapeText("Ünïcødé 😀 'q' \"q\"")).toBe("Ünïcødé 😀 'q' \"q\"");
  });

  it("drops characters XML 1.0 cannot hold: controls, lone surrogates, U+FFFE/U+FFFF", () => {
    expect(escapeText("a\u0000b\u0001c\u0008d\u000Be\u000Cf\u001Fg\tH\nI\rJ")).toBe("abcdefg\tH\nI\rJ");
    expect(escapeText("x\uD800y\uDC00z\uFFFE\uFFFF😀")).toBe("xyz😀");
  });

  it("keeps a literal _xHHHH_, which Excel would read as an escaped character", () => {
    expect(escapeText("FAC_x0041_2024")).toBe("FAC_x005F_x0041_2024");
    expect(escapeText("_x00_ and _xZZZZ_ stay")).toBe("_x00_ and _xZZZZ_ stay");
  });

  it("cuts text to Excel's 32 767 characters without splitting a surrogate pair", () => {
    expect(escapeText("a".repeat(40_000))).toHaveLength(MAX_CELL_CHARS);
    const emojiAtTheCut = `${"a".repeat(MAX_CELL_CHARS - 1)}😀`;
    expect(escapeText(emojiAtTheCut)).toBe("a".repeat(MAX_CELL_CHARS - 1));
  });

  it("marks text with leading or trailing spaces to be preserved, and writes nothing for empty text", () => {
    expect(textCell('<c r="A1"', " x")).toBe(
      '<c r="A1" t="inlineStr"><is><t xml:space="preserve"> x</t></is></c>',
    );
    expect(textCell('<c r="A1"', "x y")).toBe('<c r="A1" t="inlineStr"><is><t>x y</t></is></c>');
    expect(textCell('<c r="A1"', "")).toBe("");
    expect(textCell('<c r="A1"', "\u0001")).toBe("");
  });
});

describe("dateSerial", () => {
  it("counts Excel's 1900 date system, its phantom 29 February 1900 included", () => {
    expect(dateSerial("1900-01-01")).toBe(1);
    expect(dateSerial("1900-02-28")).toBe(59);
    expect(dateSerial("1900-03-01")).toBe(61);
    expect(dateSerial("1970-01-01")).toBe(25_569);
    expect(dateSerial("2024-02-29")).toBe(45_351);
    expect(dateSerial("9999-12-31")).toBe(2_958_465);
  });

  it("takes a Date by its UTC calendar day, whatever its time", () => {
    expect(dateSerial(new Date("2024-02-29T00:00:00Z"))).toBe(45_351);
    expect(dateSerial(new Date("2024-02-29T23:59:59.999Z"))).toBe(45_351);
  });

  it("refuses what is not a calendar date Excel can show", () => {
    for (const bad of [
      "2024-02-30",
      "2023-02-29",
      "2024-13-01",
      "24-01-01",
      "2024-1-1",
      "2024-01-01T00:00",
      "1899-12-31",
    ]) {
      expect(() => dateSerial(bad), bad).toThrow();
    }
    expect(() => dateSerial(new Date(Number.NaN))).toThrow("Invalid Date is not a date");
    expect(() => dateSerial(45_000)).toThrow("45000 is not a date");
  });
});

describe("column letters", () => {
  it("runs A…Z, AA…, up to Excel's last column XFD", () => {
    expect([0, 25, 26, 51, 52, 701, 702, 16_383].map(columnLetters)).toEqual([
      "A",
      "Z",
      "AA",
      "AZ",
      "BA",
      "ZZ",
      "AAA",
      "XFD",
    ]);
  });
});

describe("sheet names", () => {
  it("replaces the characters Excel forbids, trims, and cuts to 31 characters", () => {
    expect(cleanSheetName("Sales 01/2024: [EUR] *?\\")).toBe("Sales 01-2024- -EUR- ---");
    expect(cleanSheetName("'quoted'")).toBe("quoted");
    expect(cleanSheetName("   ")).toBe("Sheet");
    expect(cleanSheetName("x".repeat(40))).toHaveLength(31);
    expect(cleanSheetName(`${"x".repeat(30)}😀`)).toBe(`${"x".repeat(30)}😀`);
  });

  it("hands out each name once, ignoring case, and never the reserved History", () => {
    const names = new SheetNames();
    expect(names.claim("Ledger")).toBe("Ledger");
    expect(names.claim("LEDGER")).toBe("LEDGER (2)");
    expect(names.claim("Ledger", 2)).toBe("Ledger (3)");
    expect(names.claim("History")).toBe("History (2)");
    expect(names.claim("y".repeat(31), 10)).toBe(`${"y".repeat(26)} (10)`);
  });
});
