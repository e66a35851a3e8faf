/**
 * The client against the Odoo simulator (@finanzas/odoo-sim) over real HTTP, on each protocol:
 * identical results across protocols, faults injected by the simulator, and `odoo:check`.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type OdooSim, startOdooSim } from "@finanzas/odoo-sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOdooClient,
  FINANCE_MODELS,
  normalizeRecords,
  OdooAccessError,
  OdooAuthError,
  type OdooClient,
  type OdooProtocol,
  OdooUserError,
  resolveFields,
} from "../src/index.js";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../src/check-cli.ts", import.meta.url));

const sims: Partial<Record<17 | 19, OdooSim>> = {};
const clients: OdooClient[] = [];

beforeAll(async () => {
  const [s17, s19] = await Promise.all([
    startOdooSim({ version: 17, scale: 0.05, seed: 3 }),
    startOdooSim({ version: 19, scale: 0.05, seed: 3, basePath: "/odoo" }),
  ]);
  sims[17] = s17;
  sims[19] = s19;
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([sims[17]?.close(), sims[19]?.close()]);
});

function connect(version: 17 | 19, protocol: OdooProtocol | "auto", password?: string): OdooClient {
  const sim = sims[version] as OdooSim;
  const client = createOdooClient({
    url: sim.url,
    db: sim.database,
    username: sim.username,
    password: password ?? sim.password,
    protocol,
    retry: { attempts: 3, baseDelayMs: 5 },
  });
  clients.push(client);
  return client;
}

const PROTOCOLS: Record<17 | 19, OdooProtocol[]> = {
  17: ["xmlrpc", "jsonrpc"],
  19: ["xmlrpc", "jsonrpc", "json2"],
};

for (const version of [17, 19] as const) {
  describe(`Odoo ${version}-style simulator`, () => {
    it("gives identical results over every protocol", async () => {
      const results = [];
      for (const protocol of PROTOCOLS[version]) {
        const client = connect(version, protocol);
        const meta = await client.fieldsGet("account.move.line", {
          attributes: ["type", "string", "relation", "store"],
        });
        const { fields } = resolveFields(meta, FINANCE_MODELS["account.move.line"]);
        const page = await client.searchRead("account.move.line", [["parent_state", "=", "posted"]], {
          fields,
          limit: 200,
          order: "write_date asc, id asc",
          context: { active_test: false },
        });
        const ids = await client.search(
          "res.partner",
          ["|", ["active", "=", false], ["name", "ilike", "a"]],
          {
            order: "id desc",
            limit: 50,
            context: { active_test: false },
          },
        );
        const partners = await client.read(
          "res.partner",
          [...ids.slice(0, 20), 99_999_999],
          ["name", "active", "parent_id"],
        );
        const counts = [
          await client.searchCount("res.partner", [], { context: { active_test: false } }),
          await client.searchCount("res.partner", []),
        ];
        results.push({
          protocol,
          version: await client.version(),
          uid: await client.authenticate(),
          meta,
          page,
          ids,
          partners,
          counts,
        });
      }
      const [first, ...rest] = results;
      expect(first?.page.length).toBe(200);
      expect(first?.partners.length).toBe(20); // the missing id is dropped, as Odoo does
      expect(first?.counts[0]).toBeGreaterThan(first?.counts[1] ?? 0); // archived partners exist
      for (const other of rest) {
        const { protocol: _a, version: v1, ...a } = first as (typeof results)[number];
        const { protocol: _b, version: v2, ...b } = other;
        expect(b).toEqual(a);
        expect(v2.serverVersion).toBe(v1.serverVersion);
      }
    });

    it("normalises a page the same way whatever the protocol", async () => {
      const normalized = [];
      for (const protocol of PROTOCOLS[version]) {
        const client = connect(version, protocol);
        const meta = await client.fieldsGet("account.move.line", { attributes: ["type"] });
        const page = await client.searchRead("account.move.line", [], {
          fields: [
            "move_id",
            "partner_id",
            "date",
            "write_date",
            "debit",
            "credit",
            "analytic_distribution",
            "name",
          ],
          limit: 100,
          order: "id",
        });
        normalized.push(normalizeRecords(meta, page, { keepDisplayName: true, decimals: "string" }));
      }
      const [first] = normalized;
      const row = first?.[0] as Record<string, unknown>;
      expect(typeof row.move_id).toBe("number");
      expect(typeof row.move_id_display).toBe("string");
      expect(row.write_date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      expect(row.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(typeof row.debit).toBe("string");
      expect(first?.every((r) => r.partner_id === null || typeof r.partner_id === "number")).toBe(true);
      expect(
        first?.every((r) => r.analytic_distribution === null || typeof r.analytic_distribution === "object"),
      ).toBe(true);
      for (const other of normalized.slice(1)) expect(other).toEqual(first);
    });

    it("maps the simulator's errors to typed errors on every protocol", async () => {
      for (const protocol of PROTOCOLS[version]) {
        const client = connect(version, protocol);
        await expect(client.searchCount("foo.bar", [])).rejects.toThrow(OdooUserError);
        // private methods: fault 4 over XML-RPC/JSON-RPC (the simulator's JSON-2 answers 404 for them)
        if (protocol !== "json2") {
          await expect(client.call({ model: "res.partner", method: "_private" })).rejects.toThrow(
            OdooAccessError,
          );
        }
      }
    });

    it("retries injected HTML 502s and connection resets on every protocol", async () => {
      const sim = sims[version] as OdooSim;
      for (const protocol of PROTOCOLS[version]) {
        const client = connect(version, protocol);
        await client.authenticate();
        sim.control.injectFault({ kind: "http502", count: 1 });
        sim.control.injectFault({ kind: "reset", count: 1 });
        await expect(client.searchCount("account.move", [])).resolves.toBeGreaterThan(0);
        sim.control.clearFaults();
      }
    });
  });
}

describe("protocol auto and credentials", () => {
  it("auto picks JSON-2 on 19 and XML-RPC on 17", async () => {
    expect(await connect(19, "auto").protocol()).toBe("json2");
    expect(await connect(17, "auto").protocol()).toBe("xmlrpc");
  });

  it("auto falls back to XML-RPC on a 19 server whose JSON-2 cannot tell whose key it is (no res.users)", async () => {
    const sim = await startOdooSim({ version: 19, scale: 0.02, seed: 3, without: ["res.users"] });
    const client = createOdooClient({
      url: sim.url,
      db: sim.database,
      username: sim.username,
      password: sim.password,
      retry: false,
    });
    try {
      expect(await client.protocol()).toBe("xmlrpc");
      expect(await client.authenticate()).toBeGreaterThan(0);
      expect(await client.searchCount("res.company", [])).toBe(sim.store.count("res.company"));
    } finally {
      await client.close();
      await sim.close();
    }
  });

  it("a wrong password is OdooAuthError on every protocol", async () => {
    for (const protocol of ["xmlrpc", "jsonrpc", "json2"] as const) {
      await expect(connect(19, protocol, "wrong").searchCount("res.partner", [])).rejects.toThrow(
        OdooAuthError,
      );
    }
    (sims[19] as OdooSim).control.clearFaults(); // reset the simulator's failed-login counter
  });
});

describe("odoo:check", () => {
  const check = (env: Record<string, string>) =>
    run(process.execPath, ["--conditions=source", "--import", "tsx", CLI], {
      env: { PATH: process.env.PATH ?? "", ...env },
      cwd: fileURLToPath(new URL("..", import.meta.url)),
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );
  const envFor = (version: 17 | 19, overrides: Record<string, string> = {}) => {
    const sim = sims[version] as OdooSim;
    return {
      ODOO_URL: sim.url,
      ODOO_DB: sim.database,
      ODOO_USERNAME: sim.username,
      ODOO_PASSWORD: sim.password,
      ...overrides,
    };
  };

  for (const version of [17, 19] as const) {
    it(`reports version, protocol, uid and every finance model on ${version}`, async () => {
      const { code, stdout } = await check(envFor(version));
      expect(code).toBe(0);
      expect(stdout).toContain(`version:  Odoo ${version}.0`);
      expect(stdout).toContain(`protocol: ${version === 19 ? "json2" : "xmlrpc"}`);
      expect(stdout).toMatch(/uid: +2 /);
      for (const model of Object.keys(FINANCE_MODELS))
        expect(stdout).toMatch(new RegExp(`^${model.replace(/\./g, "\\.")} +yes +\\d+ `, "m"));
      expect(stdout).toContain(`OK: all ${Object.keys(FINANCE_MODELS).length} finance models are readable`);
    });
  }

  it("measures the time per page, alone and at once, and suggests ODOO_MAX_CONCURRENCY", async () => {
    const sim = sims[17] as OdooSim;
    // A server with two workers, about 4 s a page (8 ms per journal item read; the other calls
    // cheap): two pages at once as fast as one, four wait in line (a server time long enough that a
    // loaded machine's own time per page, which grows with the pages at once and reached 650 ms on a
    // busy CI runner, does not blur the ratios).
    sim.control.setPerformance({ latencyMs: 10, perRecordMs: 8, workers: 2 });
    try {
      const { code, stdout } = await check(envFor(17));
      expect(code).toBe(0);
      const speed =
        /speed: +a page of 1000 account\.move\.line: (\d+) ms alone; 2 at once in (\d+) ms \(([\d.]+)× the pages per second\), 4 at once in (\d+) ms \(([\d.]+)×/.exec(
          stdout,
        );
      expect(speed, stdout).not.toBeNull();
      expect(Number(speed![1])).toBeGreaterThanOrEqual(4000);
      expect(Number(speed![3])).toBeGreaterThan(1.5); // two workers: two pages at once about as fast as one
      expect(Number(speed![4])).toBeGreaterThanOrEqual(8000); // four: two of them wait in line
      expect(Number(speed![5])).toBeLessThan(3);
      expect(stdout).toContain("suggested ODOO_MAX_CONCURRENCY=2 ");
    } finally {
      sim.control.setPerformance({ latencyMs: 0, perRecordMs: 0, workers: 0 });
    }
  }, 150_000);

  it("exits 1 with a clear message on bad credentials", async () => {
    const { code, stderr } = await check(envFor(17, { ODOO_PASSWORD: "wrong" }));
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot log in to .* as "admin" on database "odoo"/);
    (sims[17] as OdooSim).control.clearFaults();
  });

  it("exits 1 naming ODOO_DB when the database does not exist", async () => {
    const { code, stderr } = await check(envFor(17, { ODOO_DB: "nope" }));
    expect(code).toBe(1);
    expect(stderr).toMatch(/database "nope" does not exist .*check ODOO_DB/);
  });

  it("exits 1 naming ODOO_URL when nothing answers", async () => {
    const { code, stderr } = await check(envFor(17, { ODOO_URL: "http://127.0.0.1:9" }));
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot reach Odoo at http:\/\/127\.0\.0\.1:9 \(check ODOO_URL\)/);
  });

  it("exits 1 listing every missing variable", async () => {
    const { code, stderr } = await check({});
    expect(code).toBe(1);
    for (const name of ["ODOO_URL", "ODOO_DB", "ODOO_USERNAME", "ODOO_PASSWORD"])
      expect(stderr).toContain(name);
  });
});
