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

describe("values PostgreSQL cannot store are caught before anything is sent", () => {
  const t = createTransformer(
    "account.move",
    [
      { name: "name", kind: "char" },
      { name: "date", kind: "date" },
      { name: "write_date", kind: "datetime" },
      { name: "partner_id", kind: "many2one" },
      { name: "tax_ids", kind: "many2many" },
      { name: "sequence", kind: "integer" },
      { name: "analytic_distribution", kind: "json" },
    ],
    new Map(),
  );
  const ok = {
    id: 1,
    name: "INV/1",
    date: "2024-02-29",
    write_date: "2024-02-29 23:59:59",
    partner_id: [7, "Azure"],
    tax_ids: [1, 2],
    sequence: 10,
    analytic_distribution: { "1": 100 },
  };
  const rejectedBy = (patch: Record<string, unknown>) => {
    const out = t.row({ ...ok, ...patch });
    return out.row
      ? []
      : out.problems.filter((p) => p.action === "rejected").map((p) => `${p.field}: ${p.expected}`);
  };

  it("a date or a datetime that does not exist rejects its record", () => {
    expect(t.row(ok).row).toBeDefined();
    for (const date of ["2023-02-29", "2023-02-30", "2024-04-31", "2023-13-01", "2023-00-10", "0000-01-01"])
      expect(rejectedBy({ date }), date).toEqual(["date: a date that exists, YYYY-MM-DD, or false"]);
    expect(rejectedBy({ date: "2000-02-29" })).toEqual([]);
    for (const write_date of [
      "2023-02-30 10:00:00",
      "2023-01-01 24:00:00",
      "2023-01-01 10:60:00",
      "2023-01-01 10:00:60",
    ])
      expect(rejectedBy({ write_date }), write_date).toEqual([
        "write_date: a datetime that exists, YYYY-MM-DD HH:MM:SS (UTC), or false",
      ]);
  });

  it("ids and integers beyond PostgreSQL's integer, JSON that jsonb refuses, reject their record", () => {
    expect(rejectedBy({ id: 2 ** 31 })).toEqual(["id: a positive integer below 2^31"]);
    expect(rejectedBy({ partner_id: 3_000_000_000 })).toEqual([
      "partner_id: [id, name], an id below 2^31, or false",
    ]);
    expect(rejectedBy({ partner_id: [2 ** 31, "x"] })).toHaveLength(1);
    expect(rejectedBy({ tax_ids: [1, 2 ** 31] })).toEqual(["tax_ids: a list of ids below 2^31"]);
    expect(rejectedBy({ sequence: 2 ** 31 })).toHaveLength(1);
    expect(rejectedBy({ analytic_distribution: { a: "x\u0000" } })).toHaveLength(1);
    expect(rejectedBy({ analytic_distribution: { a: "\ud800" } })).toHaveLength(1);
    expect(rejectedBy({ analytic_distribution: { a: "😀" } })).toEqual([]);
  });

  it("control characters (NUL included) are removed from text, the record written, the cleaning reported", () => {
    const out = t.row({ ...ok, name: "A\u0000B\u0001C\tD\nE\rF\u001f" });
    expect(out.row?.name).toBe("ABC\tD\nE\rF");
    expect(out.problems).toEqual([
      {
        model: "account.move",
        id: 1,
        field: "name",
        expected: "text without control characters (removed)",
        value: JSON.stringify("A\u0000B\u0001C\tD\nE\rF\u001f"),
        action: "cleaned",
      },
    ]);
    // the same in the COPY text and the upsert's arrays: no NUL reaches PostgreSQL
    const seen: string[] = [];
    const copy = t.encodeCopy(
      [
        { ...ok, name: "A\u0000B" },
        { ...ok, id: 2, date: "2023-02-30" },
      ],
      (p) => seen.push(...p.map((x) => `${x.id} ${x.action}`)),
    );
    expect(Buffer.from(copy.data).toString()).toBe(
      `1\tAB\t2024-02-29\t2024-02-29T23:59:59Z\t7\t{1,2}\t10\t{"1":100}\n`,
    );
    expect(copy.rows).toBe(1);
    expect(seen).toEqual(["1 cleaned", "2 rejected"]);
  });
});
