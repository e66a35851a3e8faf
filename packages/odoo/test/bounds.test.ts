/**
 * What the client accepts from a server is bounded, over real HTTP: one deadline per call across
 * its retries, a cap on an answer's size (cut off while it streams: memory stays flat whatever the
 * server sends), a nesting limit, and no password in any error it throws whatever the server echoes.
 */
import { type OdooSim, startOdooSim } from "@finanzas/odoo-sim";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createOdooClient,
  type OdooClient,
  type OdooClientOptions,
  OdooError,
  OdooTransportError,
  redactUrlText,
} from "../src/index.js";
import { hang, html, reply, type ScriptedServer, startScriptedServer, xml } from "./helpers.js";
import { pythonFault, pythonResponse } from "./python-marshal.js";

const PASSWORD = "Tr0ub4dor&3-<key>";
const servers: ScriptedServer[] = [];
const clients: OdooClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const client = (url: string, options: Partial<OdooClientOptions> = {}) => {
  const c = createOdooClient({
    url,
    db: "odoo",
    username: "admin",
    password: PASSWORD,
    protocol: "xmlrpc",
    ...options,
  });
  clients.push(c);
  return c;
};

const failure = async (promise: Promise<unknown>): Promise<OdooError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OdooError);
  return error as OdooError;
};

/** Nothing of the password in what a log or the run history could show of the error. */
const expectNoPassword = (error: Error, password = PASSWORD) => {
  const shown = [error.message, error.stack ?? "", (error as OdooError).debug ?? "", JSON.stringify(error)];
  for (let cause = error.cause; cause instanceof Error; cause = cause.cause)
    shown.push(cause.message, cause.stack ?? "");
  for (const text of shown) {
    expect(text).not.toContain(password);
    expect(text).not.toContain(password.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"));
    expect(text).not.toContain(encodeURIComponent(password));
  }
};

describe("one deadline per call, across its retries", () => {
  it("a server failing at once is retried until the deadline, then the error says so and how many attempts", async () => {
    const server = await startScriptedServer(xml(pythonResponse(2)), html(502, "502 Bad Gateway"));
    servers.push(server);
    // (A deadline long enough for several attempts even on a loaded CI runner, where one 502 can
    // take a few hundred milliseconds to come back.)
    const c = client(server.url, {
      deadlineMs: 2000,
      retry: { attempts: 100, baseDelayMs: 40, maxDelayMs: 150 },
    });
    await c.authenticate();
    const started = performance.now();
    const error = (await failure(
      c.searchRead("res.partner", [], { fields: ["name"] }),
    )) as OdooTransportError;
    const ms = performance.now() - started;
    expect(error).toBeInstanceOf(OdooTransportError);
    expect(error.code).toBe("EDEADLINE");
    expect(error.message).toMatch(
      /^res\.partner\.search_read: no answer within the call's deadline of 2000 ms \(ODOO_CALL_DEADLINE_MS\) after \d+ attempts; the last: .*(HTTP 502|within \d+ ms, what was left of the call's deadline)/,
    );
    // retried (not given up after one), every attempt counted, and ended by the deadline (the last
    // attempt a 502, or cut off by what was left of the deadline)
    expect(error.attempts).toBeGreaterThanOrEqual(2);
    expect(server.requests.length - 1).toBe(error.attempts);
    expect(ms).toBeLessThan(2000 + 2000);
  });

  it("an attempt that hangs gets only what is left of the deadline, not the whole timeout", async () => {
    const server = await startScriptedServer(xml(pythonResponse(2)), hang);
    servers.push(server);
    const c = client(server.url, {
      timeoutMs: 60_000,
      deadlineMs: 700,
      retry: { attempts: 5, baseDelayMs: 10 },
    });
    await c.authenticate();
    const started = performance.now();
    const error = (await failure(c.searchCount("res.partner", []))) as OdooTransportError;
    expect(performance.now() - started).toBeLessThan(700 + 2000);
    expect(error.code).toBe("EDEADLINE");
    expect(error.attempts).toBe(1);
    expect(error.message).toMatch(
      /deadline of 700 ms .* after 1 attempt; the last: .*within \d+ ms, what was left of the call's deadline/,
    );
  });

  it("attempts run out before the deadline: the last error, saying how many were made", async () => {
    const server = await startScriptedServer(xml(pythonResponse(2)), html(504, "504 Gateway Time-out"));
    servers.push(server);
    const c = client(server.url, { retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 } });
    const error = await failure(c.searchCount("res.partner", []));
    expect(error.message).toMatch(/HTTP 504 .*\(gave up after 3 attempts\)$/);
    expect(error.attempts).toBe(3);
  });

  it("an abort signal drops the request in flight and the waits: the call rejects with its reason at once", async () => {
    const server = await startScriptedServer(xml(pythonResponse(2)), hang);
    servers.push(server);
    const c = client(server.url, { timeoutMs: 60_000, deadlineMs: 60_000 });
    await c.authenticate();
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("lease lost")), 200);
    const error = await c
      .searchCount("res.partner", [], { signal: controller.signal })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe("lease lost");
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe("a cap on an answer's size, applied while it streams", () => {
  let sim: OdooSim;
  beforeAll(async () => {
    sim = await startOdooSim({ version: 19, scale: 0.02, seed: 3, password: PASSWORD });
  });
  afterAll(() => sim.close());
  afterEach(() => sim.control.clearFaults());

  const simClient = (protocol: OdooClientOptions["protocol"], options: Partial<OdooClientOptions> = {}) =>
    client(sim.url, {
      db: sim.database,
      username: sim.username,
      protocol,
      retry: { attempts: 3, baseDelayMs: 5 },
      ...options,
    });

  /** Runs `fn` while sampling the RSS every 10 ms; the peak's growth over the start, in MB. */
  const rssGrowth = async (fn: () => Promise<unknown>): Promise<number> => {
    global.gc?.();
    const start = process.memoryUsage().rss;
    let peak = start;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      await fn();
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    return (peak - start) / 1024 / 1024;
  };

  for (const [protocol, read] of [
    ["xmlrpc", "searchReadPage"],
    ["xmlrpc", "searchRead"],
    ["jsonrpc", "searchRead"],
    ["json2", "searchRead"],
  ] as const) {
    it(`${protocol} ${read}: a 4 GiB answer fails at the 64 MiB default cap, naming the call; memory stays bounded`, async () => {
      const c = simClient(protocol);
      await c.authenticate();
      sim.control.resetStats();
      sim.control.injectFault({ kind: "huge", bytes: 4 * 1024 ** 3 });
      let error: unknown;
      const started = performance.now();
      const growth = await rssGrowth(async () => {
        error = await c[read]("account.move.line", [], { fields: ["name"], limit: 10 }).catch(
          (e: unknown) => e,
        );
      });
      expect(error).toBeInstanceOf(OdooTransportError);
      expect((error as OdooTransportError).code).toBe("ERESPONSETOOLARGE");
      expect((error as Error).message).toMatch(
        /^account\.move\.line\.search_read: the answer from POST http:\/\/127\.0\.0\.1:\d+\/\S+ is larger than ODOO_MAX_RESPONSE_BYTES \(64 MiB\): cut off after \d+(\.\d)? MiB without reading the rest; ask for smaller pages \(ODOO_PAGE_SIZE\) or raise ODOO_MAX_RESPONSE_BYTES$/,
      );
      // never retried: the next attempt would be as large
      expect(sim.control.getStats().faultsInjected.huge).toBe(1);
      // 4 GiB sent at it, at most the cap (plus the socket's buffers and one copy) held
      expect(growth).toBeLessThan(200);
      console.info(
        `${protocol} ${read}: 4 GiB answer cut at 64 MiB in ${Math.round(performance.now() - started)} ms, RSS +${Math.round(growth)} MB`,
      );
      // the same client reads normally again
      expect(await c.searchCount("account.move.line", [])).toBeGreaterThan(0);
    });
  }

  it("an answer that declares a length over the cap fails before a byte of it is read", async () => {
    const c = simClient("xmlrpc", { maxResponseBytes: 1024 * 1024 });
    await c.authenticate();
    sim.control.injectFault({ kind: "huge", bytes: 2 * 1024 * 1024, declareLength: true });
    const error = await failure(c.searchRead("res.partner", [], { fields: ["name"] }));
    expect(error.message).toMatch(
      /is larger than ODOO_MAX_RESPONSE_BYTES \(1 MiB\): it declares 2(\.\d)? MiB;/,
    );
  });

  it("a value nested 10 000 levels deep is a clear parse error in every protocol, never a stack overflow", async () => {
    for (const protocol of ["xmlrpc", "jsonrpc", "json2"] as const) {
      const c = simClient(protocol);
      sim.control.injectFault({ kind: "deep", model: "res.partner", field: "name", id: 3, count: 2 });
      for (const read of ["searchRead", "searchReadPage"] as const) {
        const error = await failure(
          Promise.resolve(c[read]("res.partner", [["id", "<=", 5]], { fields: ["name"] })).then((page) =>
            Array.isArray(page) ? page : page.visit({ fields: ["id", "name"], record: () => {} }),
          ),
        );
        expect(error).toBeInstanceOf(OdooTransportError);
        expect(error.message).toMatch(
          protocol === "xmlrpc"
            ? /^res\.partner\.search_read: POST \S+ answered HTTP 200 with invalid XML-RPC response: value nested deeper than 64 levels at offset \d+/
            : /^res\.partner\.search_read: POST \S+ answered HTTP 200 with invalid JSON: value nested deeper than 64 levels$/,
        );
      }
    }
  });

  it("bytes that are not UTF-8 arrive as U+FFFD, control characters as sent, in every protocol", async () => {
    const [id] = sim.store.ids("res.partner").slice(2);
    for (const protocol of ["xmlrpc", "jsonrpc", "json2"] as const) {
      const c = simClient(protocol);
      sim.control.injectFault({
        kind: "poison",
        model: "res.partner",
        field: "name",
        id,
        hex: "4361ffc328",
        count: 1,
      });
      const [bytes] = await c.read("res.partner", [id as number], ["name"]);
      expect(bytes?.name).toBe("Ca\uFFFD\uFFFD(");
      sim.control.injectFault({
        kind: "poison",
        model: "res.partner",
        field: "name",
        id,
        text: "A\u0000B\u0007",
        count: 1,
      });
      const [text] = await c.read("res.partner", [id as number], ["name"]);
      expect(text?.name).toBe("A\u0000B\u0007");
    }
  });
});

describe("no password in any error, whatever the server echoes", () => {
  let sim: OdooSim;
  beforeAll(async () => {
    sim = await startOdooSim({ version: 19, scale: 0.02, seed: 3, password: PASSWORD });
  });
  afterAll(() => sim.close());
  afterEach(() => sim.control.clearFaults());

  it("a proxy echoing the request (XML-RPC and JSON-RPC bodies, JSON-2's bearer header)", async () => {
    for (const protocol of ["xmlrpc", "jsonrpc", "json2"] as const) {
      const c = client(sim.url, { db: sim.database, username: sim.username, protocol, retry: false });
      sim.control.injectFault({ kind: "echo" });
      const atLogin = await failure(c.authenticate());
      expectNoPassword(atLogin);
      expect(atLogin.message).toMatch(/HTTP 400/);
      await c.authenticate();
      sim.control.injectFault({ kind: "echo" });
      const later = await failure(c.searchCount("res.partner", []));
      expectNoPassword(later);
    }
  });

  it("a refused login (the wrong password is not shown either)", async () => {
    const wrong = "Wr0ng-Pa55word";
    const c = client(sim.url, {
      db: sim.database,
      username: sim.username,
      password: wrong,
      protocol: "xmlrpc",
    });
    const error = await failure(c.authenticate());
    expect(error.message).toMatch(/refused the login "admin" on database "odoo"/);
    expectNoPassword(error, wrong);
  });

  it("faults and JSON-RPC errors whose text carries the password (a traceback printing the arguments)", async () => {
    const traceback = `Traceback (most recent call last):\n  File "x.py", line 1, in execute_kw\nTypeError: execute_kw('odoo', 2, '${PASSWORD}', 'res.partner') got an unexpected keyword`;
    const server = await startScriptedServer(
      xml(pythonResponse(2)),
      xml(pythonFault(1, traceback)),
      reply(
        200,
        "application/json",
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          error: {
            code: 200,
            message: "Odoo Server Error",
            data: { name: "builtins.TypeError", message: `bad args for ${PASSWORD}`, debug: traceback },
          },
        }),
      ),
    );
    servers.push(server);
    const x = client(server.url);
    const fault = await failure(x.searchCount("res.partner", []));
    expect(fault.message).toMatch(/TypeError: execute_kw\('odoo', 2, '\*\*\*', 'res.partner'\)/);
    expectNoPassword(fault);
    const j = client(server.url, { protocol: "jsonrpc" });
    const error = await failure(
      j.call({ model: "res.partner", method: "search_count", args: { domain: [] } }),
    );
    expectNoPassword(error);
  });

  it("credentials in ODOO_URL are sent as basic authentication and never shown", async () => {
    const server = await startScriptedServer(html(502, "502 Bad Gateway"));
    servers.push(server);
    const url = server.url.replace("http://", `http://proxyuser:${encodeURIComponent(PASSWORD)}@`);
    const c = client(url, { retry: false });
    const error = await failure(c.authenticate());
    expect(server.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`proxyuser:${PASSWORD}`).toString("base64")}`,
    );
    expect(error.message).toContain(`POST ${server.url}/xmlrpc/2/common`);
    expectNoPassword(error);
    // a proxy echoing the request: the basic-auth header is removed from the error too
    const echo = await startScriptedServer((req, _body, res) => {
      res.writeHead(400, { "Content-Type": "text/plain" });
      res.end(`Bad Request: ${req.headers.authorization}`);
    });
    servers.push(echo);
    const viaProxy = client(
      echo.url.replace("http://", `http://proxyuser:${encodeURIComponent(PASSWORD)}@`),
      {
        password: "another-one",
        retry: false,
      },
    );
    const echoed = await failure(viaProxy.authenticate());
    expect(echoed.message).toContain('("Bad Request: Basic ***")');
    expectNoPassword(echoed);
    expect(redactUrlText(`see ${url}/x`)).toBe(
      `see ${server.url.replace("http://", "http://proxyuser:***@")}/x`,
    );
    const invalid = (() => {
      try {
        createOdooClient({ url: "ftp://u:hunter22@host/", db: "d", username: "u", password: "p" });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(invalid?.message).toBe(
      "invalid Odoo URL ftp://u:***@host/: only http:// and https:// are supported",
    );
  });
});
