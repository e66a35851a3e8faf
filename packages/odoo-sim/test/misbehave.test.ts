/**
 * The simulator misbehaving on purpose (faults `huge`, `deep`, `poison`, `trickle`, `echo`), read by
 * real clients: fetch for the bytes, CPython's xmlrpc.client for what a reference client makes of
 * them, the built CLI for `--fault`.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type OdooSim, startOdooSim } from "../src/index.js";
import { jsonrpc, python } from "./helpers.js";

let sim: OdooSim;
beforeAll(async () => {
  sim = await startOdooSim({ version: 17, scale: 0.02, seed: 5 });
});
afterAll(() => sim.close());
afterEach(() => sim.control.clearFaults());

const searchReadXml = (model: string, fields: string[], ids: number[]) =>
  `<?xml version="1.0"?><methodCall><methodName>execute_kw</methodName><params>` +
  "<param><value><string>odoo</string></value></param><param><value><int>2</int></value></param>" +
  "<param><value><string>admin</string></value></param>" +
  `<param><value><string>${model}</string></value></param><param><value><string>search_read</string></value></param>` +
  `<param><value><array><data><value><array><data><value><array><data><value><string>id</string></value><value><string>in</string></value><value><array><data>${ids
    .map((id) => `<value><int>${id}</int></value>`)
    .join(
      "",
    )}</data></array></value></data></array></value></data></array></value></data></array></value></param>` +
  `<param><value><struct><member><name>fields</name><value><array><data>${fields
    .map((f) => `<value><string>${f}</string></value>`)
    .join("")}</data></array></value></member></struct></value></param></params></methodCall>`;

const postXml = async (body: string) => {
  const res = await fetch(`${sim.url}/xmlrpc/2/object`, { method: "POST", body });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
};

describe("huge: an answer far larger than any page, streamed", () => {
  it("sends about the asked size as a well-formed XML-RPC list, chunked, and CPython reads it", async () => {
    sim.control.injectFault({ kind: "huge", bytes: 4 * 1024 * 1024 });
    const res = await fetch(`${sim.url}/xmlrpc/2/object`, {
      method: "POST",
      body: searchReadXml("res.partner", ["name"], [1]),
    });
    expect(res.headers.get("content-length")).toBeNull();
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(body.length).toBeLessThan(4 * 1024 * 1024 + 70_000);
    expect(body.subarray(-40).toString()).toContain("</methodResponse>");
    // the next answer is a normal one again (count 1), and a reference client parses a huge one
    sim.control.injectFault({ kind: "huge", bytes: 1024 * 1024, declareLength: true });
    const count = await python<number>(
      sim.url,
      'p = xc.ServerProxy(URL + "/xmlrpc/2/object")\nprint(json.dumps(len(p.execute_kw("odoo", 2, "admin", "res.partner", "search_read", [[]], {"fields": ["name"]}))))',
    );
    expect(count).toBeGreaterThanOrEqual(15);
  });

  it("stops writing when the client goes away: a 64 GiB answer costs the server nothing", async () => {
    sim.control.injectFault({ kind: "huge", bytes: 64 * 1024 ** 3, path: "/jsonrpc" });
    const controller = new AbortController();
    const res = await fetch(`${sim.url}/jsonrpc`, { method: "POST", body: "{}", signal: controller.signal });
    const reader = res.body!.getReader();
    let read = 0;
    while (read < 8 * 1024 * 1024) read += (await reader.read()).value?.length ?? 0;
    controller.abort();
    await reader.cancel().catch(() => {});
    // the simulator still answers at once
    const ok = await jsonrpc(sim.url, "common", "version", []);
    expect(ok.result).toBeDefined();
  });
});

describe("deep: a value nested thousands of levels", () => {
  it("replaces the field of the matching records in every protocol; CPython sees 10 000 levels", async () => {
    sim.control.injectFault({ kind: "deep", model: "res.partner", field: "name", id: 3 });
    const depth = await python<number>(
      sim.url,
      `p = xc.ServerProxy(URL + "/xmlrpc/2/object")
rows = p.execute_kw("odoo", 2, "admin", "res.partner", "search_read", [[["id", "in", [2, 3]]]], {"fields": ["name"], "order": "id"})
v = rows[1]["name"]; d = 0
while isinstance(v, list): v = v[0]; d += 1
print(json.dumps([d, isinstance(rows[0]["name"], str)]))`,
    );
    expect(depth).toEqual([10_000, true]);
    const answer = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "res.partner",
      "read",
      [[3]],
      { fields: ["name"] },
    ]);
    let v = (answer.result as { name: unknown }[])[0]?.name;
    let d = 0;
    while (Array.isArray(v)) {
      v = v[0];
      d++;
    }
    expect(d).toBe(10_000);
  });
});

describe("poison: a field's value as given, nothing stripped", () => {
  it("sends text with control characters and NUL, which Odoo itself would have stripped", async () => {
    sim.control.injectFault({
      kind: "poison",
      model: "res.partner",
      field: "name",
      id: 3,
      text: "A\u0000B\u0001C",
    });
    const answer = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "res.partner",
      "read",
      [[3]],
      { fields: ["name"] },
    ]);
    expect((answer.result as { name: unknown }[])[0]?.name).toBe("A\u0000B\u0001C");
    const xml = await postXml(searchReadXml("res.partner", ["name"], [3]));
    expect(xml.bytes.includes(Buffer.from("<string>A\u0000B\u0001C</string>"))).toBe(true);
  });

  it("sends bytes that are not UTF-8, in XML-RPC and in JSON", async () => {
    sim.control.injectFault({
      kind: "poison",
      model: "res.partner",
      field: "name",
      id: 3,
      hex: "4361ffc328",
    });
    const xml = await postXml(searchReadXml("res.partner", ["name"], [3]));
    expect(xml.bytes.includes(Buffer.from([0x3e, 0x43, 0x61, 0xff, 0xc3, 0x28, 0x3c]))).toBe(true);
    const res = await fetch(`${sim.url}/jsonrpc`, {
      method: "POST",
      body: JSON.stringify({
        jsonrpc: "2.0",
        method: "call",
        id: 1,
        params: {
          service: "object",
          method: "execute_kw",
          args: ["odoo", 2, "admin", "res.partner", "read", [[3]], { fields: ["name"] }],
        },
      }),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.includes(Buffer.from([0x22, 0x43, 0x61, 0xff, 0xc3, 0x28, 0x22]))).toBe(true);
  });

  it("sends a date that does not exist, in the form Odoo sends dates", async () => {
    const [move] = sim.store.ids("account.move");
    sim.control.injectFault({
      kind: "poison",
      model: "account.move",
      field: "date",
      id: move,
      text: "2023-02-30",
    });
    const got = await python<string>(
      sim.url,
      `p = xc.ServerProxy(URL + "/xmlrpc/2/object")
print(json.dumps(p.execute_kw("odoo", 2, "admin", "account.move", "read", [[${move}]], {"fields": ["date"]})[0]["date"]))`,
    );
    expect(got).toBe("2023-02-30");
    // records of other models, and of the same model with other ids, are untouched
    const other = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "account.move",
      "search_read",
      [[["id", "!=", move]]],
      { fields: ["date"], limit: 3 },
    ]);
    for (const r of other.result as { date: string }[]) expect(r.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("refuses a spec it cannot apply, over the control API", async () => {
    const res = await fetch(`${sim.url}/__sim/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "poison", model: "res.partner", text: "x" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain(
      'needs the field whose value it replaces ("field")',
    );
  });
});

describe("trickle and echo", () => {
  it("trickle: the answer's bytes arrive spread over the given time", async () => {
    sim.control.injectFault({ kind: "trickle", delayMs: 600, count: 1 });
    const t0 = performance.now();
    const res = await fetch(`${sim.url}/jsonrpc`, {
      method: "POST",
      body: JSON.stringify({
        jsonrpc: "2.0",
        method: "call",
        id: 1,
        params: { service: "common", method: "version", args: [] },
      }),
    });
    const first = performance.now() - t0;
    await res.text();
    const all = performance.now() - t0;
    expect(first).toBeLessThan(400);
    expect(all).toBeGreaterThanOrEqual(500);
  });

  it("echo: a proxy answers 400 with the request it got, password included", async () => {
    sim.control.injectFault({ kind: "echo" });
    const res = await fetch(`${sim.url}/xmlrpc/2/common`, {
      method: "POST",
      headers: { Authorization: "bearer key-123" },
      body: "<methodCall><methodName>authenticate</methodName><params><param><value><string>s3cret</string></value></param></params></methodCall>",
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain("s3cret");
    expect(text).toContain("bearer key-123");
  });
});

describe("the CLI", () => {
  it("--fault misbehaves from the start; a bad one exits 2 with the reason", async () => {
    const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
    const child = spawn(
      process.execPath,
      [
        cli,
        "--port",
        "0",
        "--scale",
        "0.01",
        "--fault",
        '{"kind":"poison","model":"res.partner","field":"name","text":"2023-02-30"}',
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c) => {
          out += c;
          const m = /ODOO_URL=(\S+)/.exec(out);
          if (m && out.includes("faults:")) resolve(m[1] as string);
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const answer = await jsonrpc(url, "object", "execute_kw", [
        "odoo",
        2,
        "admin",
        "res.partner",
        "search_read",
        [[]],
        { fields: ["name"], limit: 2 },
      ]);
      expect((answer.result as { name: string }[]).map((r) => r.name)).toEqual(["2023-02-30", "2023-02-30"]);
    } finally {
      child.kill();
    }
    const bad = spawn(process.execPath, [cli, "--port", "0", "--fault", '{"kind":"deep"}'], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    bad.stderr.on("data", (c) => {
      err += c;
    });
    const code = await new Promise<number | null>((resolve) => bad.once("exit", resolve));
    expect(code).toBe(2);
    expect(err).toContain("needs the field");
  });
});

describe("huge and poison about one model", () => {
  it("huge with a model answers the next call about it, other calls normally; poison sends a number as is", async () => {
    sim.control.injectFault({
      kind: "huge",
      model: "account.move",
      method: "search_read",
      bytes: 2 * 1024 * 1024,
    });
    const other = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "res.partner",
      "search_count",
      [[]],
    ]);
    expect(typeof other.result).toBe("number");
    const res = await fetch(`${sim.url}/xmlrpc/2/object`, {
      method: "POST",
      body: searchReadXml("account.move", ["name"], [1]),
    });
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    expect(sim.control.faults).toEqual([]);
    sim.control.injectFault({
      kind: "poison",
      model: "res.partner",
      field: "company_id",
      id: 3,
      number: 3_000_000_000,
    });
    const xml = await postXml(searchReadXml("res.partner", ["company_id"], [3]));
    expect(xml.bytes.includes(Buffer.from("<value><int>3000000000</int></value>"))).toBe(true);
  });
});
