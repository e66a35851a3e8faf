/**
 * The client against real local HTTP servers that answer what Odoo, its proxies and its failures
 * answer: typed errors, retries only where safe, timeouts, HTML pages, concurrency, path prefixes.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  createOdooClient,
  OdooAccessError,
  OdooAuthError,
  type OdooClientOptions,
  OdooServerError,
  OdooTransportError,
  OdooUserError,
} from "../src/index.js";
import {
  type Handler,
  hang,
  html,
  json,
  reply,
  reset,
  type ScriptedServer,
  startScriptedServer,
  xml,
} from "./helpers.js";
import { pythonFault, pythonResponse } from "./python-marshal.js";

const servers: ScriptedServer[] = [];
const clients: ReturnType<typeof createOdooClient>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const PASSWORD = "pw-4711";
const uid2 = xml(pythonResponse(2));
const records = xml(pythonResponse([{ id: 1, name: "Ñandú" }]));
const TRACEBACK =
  'Traceback (most recent call last):\n  File "/odoo/service/model.py", line 156, in execute_kw\n    return method(*args, **kwargs)\n' +
  "  File \"/odoo/models.py\", line 3002, in _read\n    raise ValueError(msg)\nValueError: Invalid field 'foo' on model 'res.partner'\n";

async function setup(handlers: Handler[], options: Partial<OdooClientOptions> = {}) {
  const server = await startScriptedServer(...handlers);
  servers.push(server);
  const client = createOdooClient({
    url: server.url,
    db: "odoo",
    username: "admin",
    // not the login: every error has the password removed, which would hide the login too
    password: PASSWORD,
    protocol: "xmlrpc",
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  clients.push(client);
  return { server, client };
}

const readPartners = (client: ReturnType<typeof createOdooClient>) =>
  client.searchRead("res.partner", [], { fields: ["name"] });

describe("XML-RPC faults map to typed errors and are never retried", () => {
  const cases = [
    [1, TRACEBACK, OdooServerError],
    [2, "Object foo.bar doesn't exist", OdooUserError],
    [3, "Access Denied", OdooAuthError],
    [4, "You are not allowed to access 'Contact' (res.partner) records.", OdooAccessError],
  ] as const;
  for (const [code, text, type] of cases) {
    it(`fault ${code} → ${type.name}`, async () => {
      const { server, client } = await setup([uid2, xml(pythonFault(code, text))]);
      const error = await readPartners(client).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as OdooServerError).faultCode).toBe(code);
      expect(server.requests.length).toBe(2); // authenticate + one execute_kw, no retry
    });
  }

  it("fault 1 carries the traceback's exception class and message", async () => {
    const { client } = await setup([uid2, xml(pythonFault(1, TRACEBACK))]);
    const error = (await readPartners(client).catch((e: unknown) => e)) as OdooServerError;
    expect(error.exceptionClass).toBe("ValueError");
    expect(error.message).toBe(
      "res.partner.search_read: ValueError: Invalid field 'foo' on model 'res.partner'",
    );
    expect(error.debug).toContain("models.py");
  });
});

describe("authentication", () => {
  it("is done once, lazily, and the uid is reused by concurrent calls", async () => {
    const { server, client } = await setup([uid2, records]);
    await Promise.all([readPartners(client), readPartners(client), readPartners(client)]);
    const paths = server.requests.map((r) => r.path);
    expect(paths.filter((p) => p === "/xmlrpc/2/common")).toHaveLength(1);
    expect(paths.filter((p) => p === "/xmlrpc/2/object")).toHaveLength(3);
    expect(server.requests[1]?.body).toContain("<int>2</int>");
  });

  it("a refused login (authenticate → false) is OdooAuthError, remembered, and never retried", async () => {
    const { server, client } = await setup([xml(pythonResponse(false))]);
    await expect(client.authenticate()).rejects.toThrow(OdooAuthError);
    await expect(readPartners(client)).rejects.toThrow(/refused the login "admin" on database "odoo"/);
    expect(server.requests).toHaveLength(1);
  });

  it("an unknown database says so", async () => {
    const fault = pythonFault(
      1,
      'Traceback (most recent call last):\n  File "/odoo/sql_db.py", line 1, in borrow\npsycopg2.OperationalError: connection to server at "db" failed: FATAL:  database "nope" does not exist\n',
    );
    const { client } = await setup([xml(fault)]);
    await expect(client.authenticate()).rejects.toThrow(
      /database "odoo" does not exist on http:\/\/127\.0\.0\.1:\d+\/ .*check ODOO_DB/,
    );
  });
});

describe("transport errors", () => {
  it("an HTML 502 page is retried, then the call succeeds", async () => {
    const { server, client } = await setup([uid2, html(502, "502 Bad Gateway"), records]);
    await expect(readPartners(client)).resolves.toEqual([{ id: 1, name: "Ñandú" }]);
    expect(server.requests).toHaveLength(3);
  });

  it("a connection reset is retried, then the call succeeds", async () => {
    const { server, client } = await setup([uid2, reset, reset, records]);
    await expect(readPartners(client)).resolves.toHaveLength(1);
    expect(server.requests).toHaveLength(4);
  });

  it("after the configured attempts the error gives the HTTP status and the page title", async () => {
    const { server, client } = await setup([uid2, html(504, "504 Gateway Time-out")]);
    const error = (await readPartners(client).catch((e: unknown) => e)) as OdooTransportError;
    expect(error).toBeInstanceOf(OdooTransportError);
    expect(error.status).toBe(504);
    expect(error.message).toMatch(
      /answered HTTP 504 with an HTML page \("504 Gateway Time-out"\) instead of XML-RPC/,
    );
    expect(error.message).not.toMatch(/Unknown XML-RPC tag/);
    expect(server.requests).toHaveLength(1 + 3);
  });

  it("an HTML page with status 200 (a login or maintenance page) is not retried", async () => {
    const { server, client } = await setup([uid2, html(200, "Odoo - Maintenance")]);
    await expect(readPartners(client)).rejects.toThrow(/HTTP 200 with an HTML page \("Odoo - Maintenance"\)/);
    expect(server.requests).toHaveLength(2);
  });

  it("a wrong URL path (HTML 404) says to check ODOO_URL", async () => {
    const { client } = await setup([html(404, "404: Not Found")]);
    await expect(client.authenticate()).rejects.toThrow(/HTTP 404 .*is ODOO_URL the Odoo base URL/);
  });

  it("a request that gets no answer times out with a clear message, and is retried", async () => {
    const { server, client } = await setup([uid2, hang], {
      timeoutMs: 150,
      retry: { attempts: 2, baseDelayMs: 5 },
    });
    const started = Date.now();
    const error = (await readPartners(client).catch((e: unknown) => e)) as OdooTransportError;
    expect(error).toBeInstanceOf(OdooTransportError);
    expect(error.message).toMatch(/within 150 ms \(timeout\)/);
    expect(server.requests).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("connection refused is a transport error naming the address", async () => {
    const server = await startScriptedServer(uid2);
    const url = server.url;
    await server.close();
    const client = createOdooClient({
      url,
      db: "d",
      username: "u",
      password: "p",
      protocol: "xmlrpc",
      retry: false,
    });
    clients.push(client);
    await expect(client.authenticate()).rejects.toThrow(
      /connection refused: is Odoo running at this address\?/,
    );
  });

  it("writes are not retried after a transport error (they may have been applied)", async () => {
    const { server, client } = await setup([uid2, html(502, "Bad Gateway"), records]);
    await expect(
      client.call({ model: "res.partner", method: "write", ids: [1], args: { vals: { name: "x" } } }),
    ).rejects.toThrow(OdooTransportError);
    expect(server.requests).toHaveLength(2);
  });
});

describe("connections", () => {
  it("serves a base URL with a path prefix", async () => {
    const { server, client } = await setup([uid2, records]);
    const prefixed = createOdooClient({
      url: `${server.url}/odoo`,
      db: "odoo",
      username: "admin",
      password: "admin",
      protocol: "xmlrpc",
    });
    clients.push(prefixed);
    await readPartners(prefixed);
    expect(server.requests.map((r) => r.path)).toEqual(["/odoo/xmlrpc/2/common", "/odoo/xmlrpc/2/object"]);
    void client;
  });

  it("keeps at most maxConcurrency requests in flight", async () => {
    const slow = xml(pythonResponse([]), 40);
    const { server, client } = await setup([uid2, slow], { maxConcurrency: 2 });
    await Promise.all(Array.from({ length: 8 }, () => readPartners(client)));
    expect(server.requests).toHaveLength(9);
    expect(server.maxInFlight).toBe(2);
  });

  it("refuses calls after close()", async () => {
    const { client } = await setup([uid2, records]);
    await client.close();
    await expect(readPartners(client)).rejects.toThrow(/closed/);
  });
});

describe("JSON-RPC errors", () => {
  const error = (name: string, message: string) =>
    json(200, {
      jsonrpc: "2.0",
      id: 1,
      error: {
        code: 200,
        message: "Odoo Server Error",
        data: { name, message, debug: `Traceback...\n${name}: ${message}` },
      },
    });
  const ok = (result: unknown) => json(200, { jsonrpc: "2.0", id: 1, result });
  for (const [name, type] of [
    ["odoo.exceptions.AccessDenied", OdooAuthError],
    ["odoo.exceptions.AccessError", OdooAccessError],
    ["odoo.exceptions.UserError", OdooUserError],
    ["odoo.exceptions.MissingError", OdooUserError],
    ["builtins.ValueError", OdooServerError],
  ] as const) {
    it(`${name} → ${type.name}`, async () => {
      const { server, client } = await setup([ok(2), error(name, "boom")], { protocol: "jsonrpc" });
      const e = await readPartners(client).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(type);
      expect(server.requests).toHaveLength(2);
      if (type === OdooServerError) expect((e as OdooServerError).exceptionClass).toBe("ValueError");
    });
  }

  it("sends execute_kw with the documented argument layout", async () => {
    const { server, client } = await setup([ok(2), ok([])], { protocol: "jsonrpc" });
    await client.searchRead("res.partner", [["id", ">", 3_000_000_000]], {
      fields: ["name"],
      limit: 5,
      context: { active_test: false },
    });
    expect(JSON.parse(server.requests[1]?.body ?? "").params).toEqual({
      service: "object",
      method: "execute_kw",
      args: [
        "odoo",
        2,
        PASSWORD,
        "res.partner",
        "search_read",
        [[["id", ">", 3_000_000_000]]],
        { fields: ["name"], limit: 5, context: { active_test: false } },
      ],
    });
  });
});

describe("JSON-2", () => {
  const version19 = json(200, { version: "19.0", version_info: [19, 0, 0, "final", 0, ""] });
  const ctx = json(200, { lang: "en_US", tz: "Europe/Madrid", uid: 7 });

  it("sends named parameters with the bearer key and the database header", async () => {
    const { server, client } = await setup([ctx, json(200, [{ id: 1 }])], { protocol: "json2" });
    await client.searchRead("res.partner", [["is_company", "=", true]], {
      fields: ["name"],
      offset: 10,
      limit: 5,
      order: "id",
      context: { lang: "es_ES" },
    });
    const request = server.requests[1];
    expect(request?.path).toBe("/json/2/res.partner/search_read");
    expect(request?.headers.authorization).toBe(`bearer ${PASSWORD}`);
    expect(request?.headers["x-odoo-database"]).toBe("odoo");
    expect(JSON.parse(request?.body ?? "")).toEqual({
      domain: [["is_company", "=", true]],
      fields: ["name"],
      offset: 10,
      limit: 5,
      order: "id",
      context: { lang: "es_ES" },
    });
    expect(await client.authenticate()).toBe(7);
  });

  for (const [status, body, type] of [
    [
      401,
      {
        name: "werkzeug.exceptions.Unauthorized",
        message: "Invalid apikey",
        arguments: [],
        context: {},
        debug: "",
      },
      OdooAuthError,
    ],
    [
      403,
      { name: "odoo.exceptions.AccessError", message: "not allowed", arguments: [], context: {}, debug: "" },
      OdooAccessError,
    ],
    [
      404,
      {
        name: "werkzeug.exceptions.NotFound",
        message: "Object foo.bar doesn't exist",
        arguments: [],
        context: {},
        debug: "",
      },
      OdooUserError,
    ],
    [422, "got an unexpected keyword argument 'badparameter'", OdooUserError],
    [
      500,
      { name: "builtins.KeyError", message: "'x'", arguments: ["x"], context: {}, debug: "Traceback" },
      OdooServerError,
    ],
  ] as const) {
    it(`HTTP ${status} → ${type.name}, not retried`, async () => {
      const { server, client } = await setup([ctx, json(status, body)], { protocol: "json2" });
      const e = await readPartners(client).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(type);
      expect((e as OdooAuthError).status).toBe(status);
      expect(server.requests).toHaveLength(2);
      if (typeof body === "string") expect((e as Error).message).toContain(body);
    });
  }

  it("auto picks JSON-2 on Odoo 19 when the password is an API key", async () => {
    const { server, client } = await setup([version19, ctx, json(200, [])], { protocol: "auto" });
    await readPartners(client);
    expect(await client.protocol()).toBe("json2");
    expect(server.requests.map((r) => r.path)).toEqual([
      "/web/version",
      "/json/2/res.users/context_get",
      "/json/2/res.partner/search_read",
    ]);
  });

  it("auto falls back to XML-RPC when JSON-2 refuses the password (401)", async () => {
    const { server, client } = await setup(
      [
        version19,
        json(401, { name: "werkzeug.exceptions.Unauthorized", message: "Invalid apikey" }),
        uid2,
        records,
      ],
      { protocol: "auto" },
    );
    await readPartners(client);
    expect(await client.protocol()).toBe("xmlrpc");
    expect(server.requests.map((r) => r.path)).toEqual([
      "/web/version",
      "/json/2/res.users/context_get",
      "/xmlrpc/2/common",
      "/xmlrpc/2/object",
    ]);
  });

  it("auto uses XML-RPC on a server without /web/version (Odoo ≤ 18)", async () => {
    const { server, client } = await setup([html(404, "404: Not Found"), uid2, records], {
      protocol: "auto",
    });
    await readPartners(client);
    expect(await client.protocol()).toBe("xmlrpc");
    expect(server.requests).toHaveLength(3);
  });

  it("a plain-text 502 from a proxy is a retryable transport error", async () => {
    const { server, client } = await setup(
      [ctx, reply(502, "text/plain", "upstream connect error"), json(200, [])],
      { protocol: "json2" },
    );
    await expect(readPartners(client)).resolves.toEqual([]);
    expect(server.requests).toHaveLength(3);
  });
});

describe("odoo:check without access to a model", () => {
  it("reports the model as not readable and exits 2", async () => {
    const { execFile } = await import("node:child_process");
    const { fileURLToPath } = await import("node:url");
    const version = pythonResponse({
      server_version: "17.0",
      server_version_info: [17, 0, 0, "final", 0, ""],
      server_serie: "17.0",
      protocol_version: 1,
    });
    const handler: Handler = (req, body, res) => {
      const send = (text: string) => {
        res.writeHead(200, { "Content-Type": "text/xml" });
        res.end(text);
      };
      if (req.url === "/web/version") return html(404, "404: Not Found")(req, body, res);
      if (body.includes("<methodName>version</methodName>")) return send(version);
      if (body.includes("<methodName>authenticate</methodName>")) return send(pythonResponse(2));
      if (body.includes("account.move.line")) {
        return send(
          pythonFault(4, "You are not allowed to access 'Journal Item' (account.move.line) records."),
        );
      }
      if (body.includes("fields_get")) return send(pythonResponse({ name: { type: "char" } }));
      if (body.includes("search_count")) return send(pythonResponse(3));
      return send(pythonResponse([]));
    };
    const server = await startScriptedServer(handler);
    servers.push(server);
    const cli = fileURLToPath(new URL("../src/check-cli.ts", import.meta.url));
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--conditions=source", "--import", "tsx", cli],
        {
          env: {
            PATH: process.env.PATH ?? "",
            ODOO_URL: server.url,
            ODOO_DB: "odoo",
            ODOO_USERNAME: "etl",
            ODOO_PASSWORD: "x",
          },
          cwd: fileURLToPath(new URL("..", import.meta.url)),
        },
        (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^account\.move\.line +NO +- +no read access/m);
    expect(result.stdout).toMatch(/^account\.move +yes +3 /m);
    expect(result.stdout).toContain('FAILED: 1 model(s) not readable by "etl": account.move.line');
  });
});

describe("searchReadPage: the answer kept as bytes until visited", () => {
  const visitAll = async (client: ReturnType<typeof createOdooClient>) => {
    const page = await client.searchReadPage("res.partner", [], { fields: ["name"] });
    const rows: unknown[][] = [];
    const count = page.visit({ fields: ["id", "name"], record: (v) => rows.push([...v]) });
    return { page, rows, count };
  };

  it("visits what searchRead returns, after retrying a 502 and a reset", async () => {
    const { server, client } = await setup([uid2, html(502, "502 Bad Gateway"), reset, records]);
    const { page, rows, count } = await visitAll(client);
    expect(count).toBe(1);
    expect(rows).toEqual([[1, "Ñandú"]]);
    expect(page.lastIdHint()).toBe(1);
    expect(server.requests).toHaveLength(4);
    expect(() => page.visit({ fields: ["id"], record: () => {} })).toThrow(/visited once/);
  });

  it("a fault is the same typed error as searchRead's, never retried", async () => {
    const { server, client } = await setup([uid2, xml(pythonFault(1, TRACEBACK))]);
    const error = (await visitAll(client).catch((e: unknown) => e)) as OdooServerError;
    expect(error).toBeInstanceOf(OdooServerError);
    expect(error.message).toBe(
      "res.partner.search_read: ValueError: Invalid field 'foo' on model 'res.partner'",
    );
    expect(server.requests).toHaveLength(2);
  });

  it("an HTML page with status 200 is a transport error naming what came back", async () => {
    const { client } = await setup([uid2, html(200, "Odoo Login")]);
    const error = (await visitAll(client).catch((e: unknown) => e)) as OdooTransportError;
    expect(error).toBeInstanceOf(OdooTransportError);
    expect(error.message).toMatch(/Odoo Login/);
  });

  it("a truncated answer fails at visit with a transport error that says where", async () => {
    const cut = pythonResponse([
      { id: 1, name: "a" },
      { id: 2, name: "b" },
    ]).slice(0, -60);
    const { client } = await setup([uid2, xml(cut)]);
    const page = await client.searchReadPage("res.partner", [], { fields: ["name"] });
    const error = (() => {
      try {
        page.visit({ fields: ["id", "name"], record: () => {} });
      } catch (e) {
        return e;
      }
    })() as OdooTransportError;
    expect(error).toBeInstanceOf(OdooTransportError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(
      /res\.partner\.search_read: POST .* answered HTTP 200 with invalid XML-RPC response: .*offset \d+/,
    );
  });
});
