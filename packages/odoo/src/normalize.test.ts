import { describe, expect, it } from "vitest";
import type { FieldsMeta } from "./client.js";
import { pythonFloatRepr, toDecimalString } from "./decimal.js";
import { parseTraceback } from "./errors.js";
import { normalizeRecord } from "./normalize.js";

const meta: FieldsMeta = {
  id: { type: "integer" },
  partner_id: { type: "many2one", relation: "res.partner" },
  tax_ids: { type: "many2many", relation: "account.tax" },
  reconciled: { type: "boolean" },
  ref: { type: "char" },
  date: { type: "date" },
  write_date: { type: "datetime" },
  balance: { type: "monetary" },
  analytic_distribution: { type: "json" },
  sequence: { type: "integer" },
};

describe("normalizeRecord", () => {
  const record = {
    id: 7,
    partner_id: [3, "Azure Interior"],
    tax_ids: [1, 2],
    reconciled: false,
    ref: false,
    date: "2024-03-01",
    write_date: "2024-03-01 23:59:58",
    balance: 1234.5,
    analytic_distribution: false,
    sequence: 0,
    unknown_field: false,
  };

  it("turns Odoo's empty false into null, keeps booleans, many2one → id, datetimes → ISO UTC", () => {
    expect(normalizeRecord(meta, record)).toEqual({
      id: 7,
      partner_id: 3,
      tax_ids: [1, 2],
      reconciled: false,
      ref: null,
      date: "2024-03-01",
      write_date: "2024-03-01T23:59:58Z",
      balance: 1234.5,
      analytic_distribution: null,
      sequence: 0,
      unknown_field: null,
    });
  });

  it("keeps the display name, exact decimals and Dates when asked", () => {
    const out = normalizeRecord(
      meta,
      { ...record, partner_id: false, balance: 0.1 + 0.2 },
      {
        keepDisplayName: true,
        decimals: "string",
        datetimes: "date",
      },
    );
    expect(out.partner_id).toBeNull();
    expect(out.partner_id_display).toBeNull();
    expect(out.balance).toBe("0.30000000000000004");
    expect(out.write_date).toEqual(new Date(Date.UTC(2024, 2, 1, 23, 59, 58)));
    expect(normalizeRecord(meta, record, { keepDisplayName: true }).partner_id_display).toBe(
      "Azure Interior",
    );
  });

  it("accepts bare many2one ids (load: '')", () => {
    expect(normalizeRecord(meta, { partner_id: 3 }).partner_id).toBe(3);
  });
});

describe("decimals", () => {
  it("writes Python's repr and plain decimal text from the same shortest digits", () => {
    expect([100, 1e16, 1e-5, 0.1, -0, 1.5e300, 123456789.125].map(pythonFloatRepr)).toEqual([
      "100.0",
      "1e+16",
      "1e-05",
      "0.1",
      "-0.0",
      "1.5e+300",
      "123456789.125",
    ]);
    expect([1e16, 1e-7, -1234.5, 1e21].map(toDecimalString)).toEqual([
      "10000000000000000",
      "0.0000001",
      "-1234.5",
      "1000000000000000000000",
    ]);
  });
});

describe("parseTraceback", () => {
  it("takes the exception line after the last frame, chained exceptions and multi-line messages included", () => {
    const text =
      "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n    g()\nKeyError: 'x'\n\n" +
      "The above exception was the direct cause of the following exception:\n\n" +
      'Traceback (most recent call last):\n  File "b.py", line 2, in h\n    cr.execute(q)\n' +
      'psycopg2.errors.UndefinedColumn: column "foo" does not exist\nLINE 1: SELECT foo FROM x\n               ^\n';
    expect(parseTraceback(text)).toEqual({
      exceptionClass: "psycopg2.errors.UndefinedColumn",
      message: 'column "foo" does not exist\nLINE 1: SELECT foo FROM x\n               ^',
    });
    expect(parseTraceback("Object foo.bar doesn't exist")).toEqual({
      exceptionClass: undefined,
      message: "Object foo.bar doesn't exist",
    });
  });
});
