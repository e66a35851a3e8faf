import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpResponse, floatRepr, type OdooSim, PyFloat, type PyValue, startOdooSim } from "../src/index.js";
import { methodCall, python, xmlrpcRaw } from "./helpers.js";

let sim: OdooSim;
beforeAll(async () => {
  sim = await startOdooSim({ version: 17, scale: 0.05, seed: 3 });
});
afterAll(() => sim.close());

describe("marshalling matches CPython's xmlrpc.client", () => {
  it("writes floats exactly like Python's repr()", async () => {
    const values = [
      100,
      0.1,
      0.30000000000000004,
      1e16,
      1e15,
      1e-5,
      0.0001,
      123456789.125,
      -2.5e-7,
      5e-324,
      Number.MAX_VALUE,
      -0.0,
      1.2345678901234567e19,
      0.5,
      Math.PI,
      2 / 3,
    ];
    const texts = values.map((v) => (Object.is(v, -0) ? "-0.0" : String(v)));
    const expected = await python<string[]>(
      "",
      `print(json.dumps([repr(float(v)) for v in ${JSON.stringify(texts)}]))`,
    );
    expect(values.map(floatRepr)).toEqual(expected);
  });

  it("produces byte-identical XML to xmlrpc.client.dumps for nested values", async () => {
    const value: PyValue = {
      name: "Müller & Söhne <GmbH>",
      amounts: [new PyFloat(100), new PyFloat(0.1), new PyFloat(1e16), 7, -3],
      flags: [true, false],
      nested: { empty: [], deep: { x: new PyFloat(2.5) } },
      text: "tab\tnew\nline",
    };
    const ours = dumpResponse(value);
    const theirs = await python<string>(
      "",
      `v = {"name": "Müller & Söhne <GmbH>", "amounts": [100.0, 0.1, 1e16, 7, -3], "flags": [True, False], "nested": {"empty": [], "deep": {"x": 2.5}}, "text": "tab\\tnew\\nline"}\nprint(json.dumps(xc.dumps((v,), methodresponse=True, allow_none=False)))`,
    );
    expect(ours).toBe(theirs);
  });

  it("serves search_read that Python parses, with floats as floats and many2one as [id, name]", async () => {
    const r = await python<{ rows: Record<string, unknown>[]; types: Record<string, string> }>(
      sim.url,
      `o = xc.ServerProxy(URL + "/xmlrpc/2/object")
rows = o.execute_kw("odoo", 2, "admin", "account.move.line", "search_read", [[["display_type", "=", "product"]]], {"fields": ["move_id", "debit", "credit", "balance", "date", "write_date", "analytic_distribution", "tax_ids", "account_id"], "limit": 50, "order": "id"})
types = {k: type(v).__name__ for k, v in rows[0].items()}
print(json.dumps({"rows": rows, "types": types}))`,
    );
    expect(r.rows).toHaveLength(50);
    expect(r.types).toMatchObject({
      id: "int",
      move_id: "list",
      debit: "float",
      credit: "float",
      balance: "float",
      date: "str",
      write_date: "str",
    });
    for (const row of r.rows) {
      expect(row.write_date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      expect(row.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const m2o = row.move_id as [number, string];
      expect(typeof m2o[0]).toBe("number");
      expect(typeof m2o[1]).toBe("string");
      expect(row.analytic_distribution === false || typeof row.analytic_distribution === "object").toBe(true);
    }
  });

  it("never writes nil, i8 or dateTime elements, and strips control characters", async () => {
    const body = methodCall("execute_kw", [
      "<string>odoo</string>",
      "<int>2</int>",
      "<string>admin</string>",
      "<string>res.partner</string>",
      "<string>search_read</string>",
      "<array><data><value><array><data></data></array></value></data></array>",
      "<struct><member><name>context</name><value><struct><member><name>active_test</name><value><boolean>0</boolean></value></member></struct></value></member></struct>",
    ]);
    const { status, text, type } = await xmlrpcRaw(sim.url, "/xmlrpc/2/object", body);
    expect(status).toBe(200);
    expect(type).toContain("text/xml");
    expect(text).not.toMatch(/<nil|<i8>|dateTime\.iso8601|<base64>/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(text).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
    expect(text).toContain("BellTone Audio Ltd");
    const names = await python<string[]>(
      sim.url,
      `o = xc.ServerProxy(URL + "/xmlrpc/2/object")
print(json.dumps([p["name"] for p in o.execute_kw("odoo", 2, "admin", "res.partner", "search_read", [[]], {"fields": ["name"], "context": {"active_test": False}})]))`,
    );
    expect(names).toContain("Müller & Söhne GmbH");
    expect(names).toContain("Łódź Logistyka Sp. z o.o.");
    expect(names).toContain("O'Brien <Partners> & Co");
    expect(names).toContain("BellTone Audio Ltd");
  });

  it("answers faults with integer codes and Odoo's messages", async () => {
    const faults = await python<[number, string][]>(
      sim.url,
      `o = xc.ServerProxy(URL + "/xmlrpc/2/object")
c = xc.ServerProxy(URL + "/xmlrpc/2/common")
out = []
calls = [
  lambda: o.execute_kw("odoo", 2, "admin", "foo.bar", "search", [[]]),
  lambda: o.execute_kw("odoo", 2, "wrong", "res.partner", "search", [[]]),
  lambda: o.execute_kw("odoo", 2, "admin", "res.partner", "search", [[["nope", "=", 1]]]),
  lambda: o.execute_kw("odoo", 2, "admin", "res.partner", "search", [[]], {"context": {"allowed_company_ids": [1, 99]}}),
  lambda: o.execute_kw("odoo", 2, "admin", "account.move.line", "search_read", [[]], {"limit": 5}),
  lambda: c.authenticate("nodb", "admin", "admin", {}),
  lambda: o.execute_kw("odoo", 2, "admin", "res.partner", "_private", [[]]),
]
for call in calls:
    try:
        call(); out.append([0, "no fault"])
    except xc.Fault as f:
        out.append([f.faultCode, f.faultString])
print(json.dumps(out))`,
    );
    const [unknownModel, badPassword, badField, badCompany, allFields, badDb, privateMethod] = faults;
    expect(unknownModel).toEqual([2, "Object foo.bar doesn't exist"]);
    expect(badPassword).toEqual([3, "Access Denied"]);
    expect(badField![0]).toBe(1);
    expect(badField![1]).toMatch(/^Traceback \(most recent call last\):\n/);
    expect(badField![1].trimEnd().split("\n").pop()).toBe(
      "ValueError: Invalid field 'nope' on model 'res.partner'",
    );
    expect(badCompany).toEqual([4, "Access to unauthorized or invalid companies."]);
    expect(allFields![0]).toBe(1);
    expect(allFields![1].trimEnd().split("\n").pop()).toBe("TypeError: dictionary key must be string");
    expect(badDb![0]).toBe(1);
    expect(badDb![1]).toMatch(/OperationalError: .*database "nodb" does not exist/);
    expect(privateMethod![0]).toBe(4);
  });

  it("authenticate returns False (not a fault) on bad credentials", async () => {
    const r = await python<unknown[]>(
      sim.url,
      `c = xc.ServerProxy(URL + "/xmlrpc/2/common")
print(json.dumps([c.authenticate("odoo", "admin", "admin", {}), c.authenticate("odoo", "admin", "nope", {}), c.login("odoo", "admin", "admin"), c.version()["server_version"]]))`,
    );
    expect(r).toEqual([2, false, 2, "17.0"]);
  });

  it("faults with OverflowError when an integer does not fit XML-RPC", async () => {
    sim.control.update("res.partner", [4], { customer_rank: 3_000_000_000 });
    const r = await python<[number, string]>(
      sim.url,
      `o = xc.ServerProxy(URL + "/xmlrpc/2/object")
try:
    o.execute_kw("odoo", 2, "admin", "res.partner", "read", [[4]], {"fields": ["customer_rank"]}); print(json.dumps([0, ""]))
except xc.Fault as f:
    print(json.dumps([f.faultCode, f.faultString]))`,
    );
    expect(r[0]).toBe(1);
    expect(r[1].trimEnd().split("\n").pop()).toBe("OverflowError: int exceeds XML-RPC limits");
    sim.control.update("res.partner", [4], { customer_rank: 5 });
  });

  it("accepts what Python sends: booleans as 0/1, nil and i8 in requests", async () => {
    const body = methodCall("execute_kw", [
      "<string>odoo</string>",
      "<i8>2</i8>",
      "<string>admin</string>",
      "<string>res.partner</string>",
      "<string>search</string>",
      "<array><data><value><array><data><value><array><data><value><string>id</string></value><value><string>in</string></value><value><array><data><value><i8>4</i8></value><value><int>5</int></value></data></array></value></data></array></value></data></array></value></data></array>",
      "<struct><member><name>limit</name><value><nil/></value></member></struct>",
    ]);
    const { text } = await xmlrpcRaw(sim.url, "/xmlrpc/2/object", body);
    // default res.partner order is complete_name: Café Niño (5) sorts before Müller (4)
    expect(text).toContain(
      "<value><array><data>\n<value><int>5</int></value>\n<value><int>4</int></value>\n</data></array></value>",
    );
  });
});
