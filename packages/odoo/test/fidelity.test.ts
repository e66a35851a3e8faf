/**
 * Fidelity against CPython's own XML-RPC (the marshaller Odoo uses): what Python's server sends
 * decodes to exactly what Python's client sees, and what our client sends parses in Python to the
 * intended values.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toDecimalString } from "../src/decimal.js";
import { encodeMethodCall } from "../src/encode.js";
import { createOdooClient, OdooServerError } from "../src/index.js";
import { decodeMethodResponse, type MethodResponse } from "../src/xmlrpc-decode.js";
import { type PythonServer, packageDecode, pythonClientView, startPythonServer } from "./helpers.js";

let stock: PythonServer;
let odoo: PythonServer;

beforeAll(async () => {
  [stock, odoo] = await Promise.all([startPythonServer("stock"), startPythonServer("odoo")]);
});
afterAll(async () => {
  await Promise.all([stock?.close(), odoo?.close()]);
});

/** The raw response bytes of METHOD(*args) from a Python server. */
async function raw(server: PythonServer, method: string, args: unknown[]): Promise<Buffer> {
  const res = await fetch(`${server.url}/xmlrpc/2/object`, {
    method: "POST",
    headers: { "Content-Type": "text/xml" },
    body: encodeMethodCall(method, args, method),
  });
  return Buffer.from(await res.arrayBuffer());
}

const resultOf = (r: MethodResponse): unknown =>
  r.fault ? { faultCode: r.faultCode, faultString: r.faultString } : r.value;

describe("responses from CPython's xmlrpc.server decode to what CPython's client sees", () => {
  for (const name of ["scalars", "doubles", "special_doubles", "text", "nested", "big_list"]) {
    it(`sample "${name}"`, async () => {
      const body = await raw(odoo, "sample", [name]);
      const python = await pythonClientView(odoo.port, "sample", [name]);
      const fromBuffer = resultOf(decodeMethodResponse(body));
      expect(fromBuffer).toEqual(python);
      // also from a string, and identical to the xmlrpc package wherever the package can parse it
      expect(resultOf(decodeMethodResponse(body.toString("utf8")))).toEqual(python);
      if (name !== "special_doubles") expect((await packageDecode(body)).value).toEqual(fromBuffer);
    });
  }

  it("keeps -0.0, 5e-324 and 1e+16 bit-exact", async () => {
    const value = resultOf(decodeMethodResponse(await raw(odoo, "sample", ["doubles"]))) as number[];
    expect(value[0]).toBe(1e16);
    expect(value[2]).toBe(5e-324);
    const scalars = resultOf(decodeMethodResponse(await raw(odoo, "sample", ["scalars"]))) as unknown[];
    expect(Object.is(scalars[10], -0)).toBe(true);
  });

  it("Odoo-style marshalling strips control characters; we decode the stripped text like Python", async () => {
    const python = await pythonClientView(odoo.port, "sample", ["control"]);
    expect(python).toEqual(["bell and nul-free  end", "formfeed", "keep\ttab\nlf\ncr"]);
    expect(
      resultOf(decodeMethodResponse(await raw(odoo, "sample", ["control"]), { normalizeNewlines: true })),
    ).toEqual(python);
  });

  it("stock CPython writes control characters raw: its own client rejects them, we keep them like the xmlrpc package", async () => {
    const python = (await pythonClientView(stock.port, "sample", ["control"])) as { $error?: string };
    expect(python.$error).toMatch(/ExpatError|not well-formed/);
    const body = await raw(stock, "sample", ["control"]);
    const ours = resultOf(decodeMethodResponse(body));
    expect(ours).toEqual(["bell\x07 and nul-free \x01\x02\x1f end", "form\x0cfeed", "keep\ttab\nlf\rcr"]);
    expect((await packageDecode(body)).value).toEqual(ours);
  });

  it("CR and CRLF: kept as stored by default (like the xmlrpc package and JSON), normalised like Python on request", async () => {
    const body = await raw(odoo, "sample", ["crlf"]);
    const python = await pythonClientView(odoo.port, "sample", ["crlf"]);
    expect(python).toEqual(["windows\nline\nends", "old mac\nline", "mixed\n\n\n"]);
    expect(resultOf(decodeMethodResponse(body, { normalizeNewlines: true }))).toEqual(python);
    const kept = resultOf(decodeMethodResponse(body));
    expect(kept).toEqual(["windows\r\nline\r\nends", "old mac\rline", "mixed\r\n\n\r"]);
    expect((await packageDecode(body)).value).toEqual(kept);
  });

  for (const [code, text] of [
    [
      1,
      "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\nValueError: Invalid field 'foo' on model 'res.partner'\n",
    ],
    [2, "Object foo.bar doesn't exist"],
    [3, "Access Denied"],
    [4, "You are not allowed to access 'Journal Item' (account.move.line) records."],
  ] as const) {
    it(`fault ${code} keeps its int code and its text`, async () => {
      const body = await raw(odoo, "fault", [code, text]);
      const python = (await pythonClientView(odoo.port, "fault", [code, text])) as {
        $fault: [number, string];
      };
      const ours = decodeMethodResponse(body);
      expect(ours.fault).toBe(true);
      expect(ours.fault && [ours.faultCode, ours.faultString]).toEqual(python.$fault);
    });
  }
});

describe("requests our client sends parse in CPython to the intended values", () => {
  const client = () =>
    createOdooClient({
      url: `${odoo.url}/`,
      db: "odoo",
      username: "admin",
      password: "admin",
      protocol: "xmlrpc",
    });

  it("execute_kw for search_read: domain, fields, paging, order and context arrive as Python values", async () => {
    const c = client();
    const received = (await c.call({
      model: "res.partner",
      method: "search_read",
      args: {
        domain: [
          ["name", "ilike", "Ñandú & <Co> ]]>"],
          "|",
          ["active", "=", false],
          ["id", "in", [1, 2147483647]],
        ],
      },
      kwargs: { fields: ["name", "write_date"], offset: 0, limit: 500, order: "write_date asc, id asc" },
      context: { active_test: false, allowed_company_ids: [1, 2], lang: "es_ES" },
    })) as string;
    expect(received).toBe(
      "['odoo', 2, 'admin', 'res.partner', 'search_read', " +
        "[[['name', 'ilike', 'Ñandú & <Co> ]]>'], '|', ['active', '=', False], ['id', 'in', [1, 2147483647]]]], " +
        "{'fields': ['name', 'write_date'], 'offset': 0, 'limit': 500, 'order': 'write_date asc, id asc', " +
        "'context': {'active_test': False, 'allowed_company_ids': [1, 2], 'lang': 'es_ES'}}]",
    );
    await c.close();
  });

  it("doubles, negative numbers, null, dates and non-ASCII text", async () => {
    const c = client();
    const received = (await c.call({
      model: "x",
      method: "echo_values",
      args: {
        values: [
          0.1,
          1e21,
          -2.5e-7,
          -7,
          null,
          new Date(Date.UTC(2024, 2, 1, 12, 30, 5)),
          "2024-03-01",
          "東京 😀",
          true,
        ],
      },
    })) as string;
    expect(received).toContain(
      "[[0.1, 1e+21, -2.5e-07, -7, None, '2024-03-01 12:30:05', '2024-03-01', '東京 😀', True]]",
    );
    await c.close();
  });

  it("never sends an <int> ≥ 2^31: such integers arrive in Python as floats", async () => {
    const c = client();
    const received = (await c.searchRead(
      "account.move",
      [
        ["amount_total", ">=", 2 ** 31],
        ["amount_total", "<", -(2 ** 31) - 1],
      ],
      {
        fields: ["id"],
      },
    )) as unknown as string;
    expect(received).toContain(
      "[[['amount_total', '>=', 2147483648.0], ['amount_total', '<', -2147483649.0]]]",
    );
    await c.close();
  });

  it("a Python exception becomes OdooServerError with the class and message of the traceback's last line", async () => {
    const c = client();
    const error = (await c
      .call({ model: "res.partner", method: "raise_value_error", args: { field: "foo" } })
      .catch((e: unknown) => e)) as OdooServerError;
    expect(error).toBeInstanceOf(OdooServerError);
    expect(error.exceptionClass).toBe("ValueError");
    expect(error.faultCode).toBe(1);
    expect(error.message).toBe(
      "res.partner.raise_value_error: ValueError: Invalid field 'foo' on model 'res.partner'",
    );
    expect(error.debug).toMatch(/^Traceback \(most recent call last\):/);
    await c.close();
  });
});

describe("exact decimals", () => {
  it("toDecimalString gives the digits Python's repr wrote, in plain notation (checked by Python's Decimal)", () => {
    const values = [
      0.1, 0.30000000000000004, 1e16, 1e-7, 1234567.89, -0.5, 100, 5e-324, 1.7976931348623157e308, 33.33,
    ];
    const python = execFileSync("python3", [
      "-c",
      "import sys, json\nfrom decimal import Decimal\nprint(json.dumps([format(Decimal(repr(float(x))), 'f') for x in sys.argv[1:]]))",
      ...values.map(String),
    ]).toString();
    const expected = (JSON.parse(python) as string[]).map((s) =>
      s.includes(".") ? s.replace(/\.?0+$/, "") : s,
    );
    expect(values.map(toDecimalString)).toEqual(expected);
  });
});
