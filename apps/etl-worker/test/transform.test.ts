import { describe, expect, it } from "vitest";
import { createTransformer, roundDecimal } from "../src/transform.js";

describe("value mapping", () => {
  it("rounds amounts half away from zero to the currency's decimals, exactly", () => {
    expect(roundDecimal("2.675", 2)).toBe("2.68");
    expect(roundDecimal("-2.675", 2)).toBe("-2.68");
    expect(roundDecimal("0.30000000000000004", 2)).toBe("0.3");
    expect(roundDecimal("9.995", 2)).toBe("10");
    expect(roundDecimal("-0.001", 2)).toBe("0");
    expect(roundDecimal("1234.5", 0)).toBe("1235");
    expect(roundDecimal("100", 2)).toBe("100");
    expect(roundDecimal("12345678901234567890.125", 2)).toBe("12345678901234567890.13");
  });

  it("maps Odoo values and reports values of an unexpected type with model, id and field", () => {
    const t = createTransformer(
      "account.move",
      [
        { name: "name", kind: "char" },
        { name: "partner_id", kind: "many2one" },
        { name: "amount_total", kind: "monetary", currency: "currency_id" },
        { name: "currency_id", kind: "many2one" },
        { name: "date", kind: "date" },
        { name: "write_date", kind: "datetime" },
        { name: "checked", kind: "boolean" },
        { name: "analytic_distribution", kind: "json" },
        { name: "tax_ids", kind: "many2many" },
      ],
      new Map([[1, 2]]),
    );
    const ok = t.row({
      id: 7,
      name: false,
      partner_id: [3, "Azure"],
      amount_total: 0.1 + 0.2,
      currency_id: [1, "EUR"],
      date: "2024-02-29",
      write_date: "2024-03-01 10:00:05",
      checked: false,
      analytic_distribution: { "12,37": 100 },
      tax_ids: [],
    });
    expect(ok.row).toEqual({
      id: 7,
      name: null,
      partner_id: 3,
      amount_total: "0.3",
      currency_id: 1,
      date: "2024-02-29",
      write_date: "2024-03-01T10:00:05Z",
      checked: false,
      analytic_distribution: { "12,37": 100 },
      tax_ids: [],
    });
    const bad = t.row({
      id: 8,
      name: 5,
      partner_id: "3",
      amount_total: "12.00",
      currency_id: false,
      date: "29/02/2024",
      write_date: false,
      checked: 0,
      analytic_distribution: false,
      tax_ids: [],
    });
    expect(bad.problems?.map((p) => `${p.model} ${p.id} ${p.field}`)).toEqual([
      "account.move 8 name",
      "account.move 8 partner_id",
      "account.move 8 amount_total",
      "account.move 8 date",
      "account.move 8 checked",
    ]);
  });
});

describe("decimal text", () => {
  it("is Odoo's exact digits for every double, exponent ranges included", () => {
    const t = createTransformer("x", [{ name: "q", kind: "float" }], new Map());
    for (const [value, text] of [
      [1e21, "1000000000000000000000"],
      [1e-7, "0.0000001"],
      [-0, "0"],
      [0.1 + 0.2, "0.30000000000000004"],
      [100, "100"],
      [-12.5, "-12.5"],
    ] as const) {
      expect(t.row({ id: 1, q: value }).row?.q).toBe(text);
    }
  });
});
