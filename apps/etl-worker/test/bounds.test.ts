/**
 * An Odoo that sends what PostgreSQL cannot store, answers too large, too deep or too late, or
 * echoes the password back: over real HTTP (the simulator misbehaving on purpose) into a real
 * PostgreSQL. A record that cannot be stored is left out, listed and read again, never failing its
 * model; a bad answer fails its model with a clear error and the next run converges; one retry
 * layer, one deadline; no password in errors, logs or the run history.
 */
import type { RunResult } from "@finanzas/contracts";
import { createLogger } from "@finanzas/logger";
import { createOdooClient, type OdooClientOptions } from "@finanzas/odoo";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

const outcome = (result: RunResult, model: string) => result.models.find((m) => m.model === model);

/** A client of the harness's simulator with other options (deadline, cap, retries, protocol). */
const clientOf = (h: Harness, options: Partial<OdooClientOptions>) =>
  createOdooClient({
    url: h.sim.url,
    db: h.sim.database,
    username: h.sim.username,
    password: h.sim.password,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });

for (const protocol of ["xmlrpc", "jsonrpc"] as const) {
  describe(`${protocol}: records PostgreSQL cannot store`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await harness(`etl_reject_${protocol}`, { version: 17, scale: 0.05 }, { pageSize: 100 });
    });
    afterAll(() => h?.close());

    it("are left out, listed and read again by every sync; the rest commits; fixed, they converge", async () => {
      const odoo = clientOf(h, { protocol, retry: { attempts: 6, baseDelayMs: 20 } });
      const engine = h.engineWith({ odoo });
      const move = h.sim.store.ids("account.move")[7] as number;
      const line = h.sim.store.ids("account.move.line")[42] as number;
      const [nul, garbled] = h.sim.store.ids("res.partner").slice(5, 7) as [number, number];
      const names = h.sim.store.read("res.partner", [nul, garbled], ["name"]);
      h.sim.control.injectFault({
        kind: "poison",
        model: "account.move",
        id: move,
        field: "date",
        text: "2023-02-30",
      });
      h.sim.control.injectFault({
        kind: "poison",
        model: "account.move.line",
        id: line,
        field: "partner_id",
        number: 3_000_000_000,
      });
      h.sim.control.injectFault({
        kind: "poison",
        model: "res.partner",
        id: nul,
        field: "name",
        text: "Nul\u0000Byte\u0001 SL",
      });
      h.sim.control.injectFault({
        kind: "poison",
        model: "res.partner",
        id: garbled,
        field: "name",
        hex: "436166ff20c328426172",
      });

      // A first sync: pages of new ids go in with COPY; the bad records never reach it.
      const first = await sync(engine, job(), undefined, "full");
      expect(first.status, JSON.stringify(first.models.filter((m) => m.error))).toBe("succeeded");
      expect(outcome(first, "account.move")).toMatchObject({
        status: "succeeded",
        rejected: 1,
        rejectedRecords: [
          {
            id: move,
            field: "date",
            reason: 'expected a date that exists, YYYY-MM-DD, or false, got "2023-02-30"',
          },
        ],
      });
      expect(outcome(first, "account.move.line")).toMatchObject({
        status: "succeeded",
        rejected: 1,
        rejectedRecords: [{ id: line, field: "partner_id", reason: expect.stringContaining("below 2^31") }],
      });
      expect(outcome(first, "res.partner")?.rejected).toBeUndefined();
      const diffs = await diffWithSource(h);
      expect(diffs.sort()).toEqual(
        [
          `account.move ${move}: missing locally`,
          `account.move.line ${line}: missing locally`,
          `res.partner ${nul} name: Odoo ${JSON.stringify(names[0]?.name)}, local "NulByte SL"`,
          `res.partner ${garbled} name: Odoo ${JSON.stringify(names[1]?.name)}, local "Caf\uFFFD \uFFFD(Bar"`,
        ].sort(),
      );
      const q = (text: string, values: unknown[] = []) =>
        h.store.pool.query(text, values).then((r) => r.rows);
      expect(
        await q("select model, id, problems, first_run_id, last_run_id from etl.rejected order by model"),
      ).toEqual([
        {
          model: "account.move",
          id: move,
          problems: [
            { field: "date", expected: "a date that exists, YYYY-MM-DD, or false", value: '"2023-02-30"' },
          ],
          first_run_id: first.runId,
          last_run_id: first.runId,
        },
        expect.objectContaining({ model: "account.move.line", id: line }),
      ]);
      // the cursor moved on past the record (the pass is complete), which is listed, not lost
      expect(
        await q(
          "select full_last_id, write_date is not null as has from etl.cursors where model = 'account.move'",
        ),
      ).toEqual([{ full_last_id: null, has: true }]);
      expect(await q("select rejected from etl.runs where id = $1", [first.runId])).toEqual([
        { rejected: 2 },
      ]);
      const [partners] = await q(
        "select rejected, problems from etl.run_models where run_id = $1 and model = 'res.partner'",
        [first.runId],
      );
      expect(partners.rejected).toBe(0);
      expect(partners.problems).toContainEqual(
        expect.objectContaining({
          id: nul,
          field: "name",
          action: "cleaned",
          value: '"Nul\\u0000Byte\\u0001 SL"',
        }),
      );

      // Still in Odoo's answers: the next sync reads them again, lists them again.
      const second = await sync(engine, job(), ["account.move", "account.move.line"], "incremental");
      expect(second.status).toBe("succeeded");
      expect(outcome(second, "account.move")?.rejected).toBe(1);
      expect(await q("select model, last_run_id from etl.rejected order by model")).toEqual([
        { model: "account.move", last_run_id: second.runId },
        { model: "account.move.line", last_run_id: second.runId },
      ]);

      // Fixed in Odoo (the names edited, which bumps their write_date): the next sync converges.
      h.sim.control.clearFaults();
      h.sim.control.update("res.partner", [nul], { name: names[0]?.name });
      h.sim.control.update("res.partner", [garbled], { name: names[1]?.name });
      const third = await sync(engine, job(), undefined, "incremental");
      expect(third.status).toBe("succeeded");
      expect(third.models.every((m) => m.rejected === undefined)).toBe(true);
      expect(await q("select * from etl.rejected")).toEqual([]);
      expect(await diffWithSource(h)).toEqual([]);
      await odoo.close();
    });
  });
}

describe("bad answers: one retry layer, one deadline, a size cap, a nesting limit", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_bounds", { version: 17, scale: 0.05 }, { pageSize: 100 });
  });
  afterAll(() => h?.close());
  afterEach(() => h.sim.control.clearFaults());

  it("retries a call only in the client: 4 attempts are 4 requests, not attempts times attempts", async () => {
    const odoo = clientOf(h, { retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 10 } });
    await odoo.authenticate();
    h.sim.control.resetStats();
    h.sim.control.injectFault({ kind: "http502", count: 1000, path: "/xmlrpc/2/object" });
    const result = await sync(h.engineWith({ odoo }), job(), ["res.currency"], "full");
    expect(result.status).toBe("failed");
    expect(outcome(result, "res.currency")?.error).toMatch(/HTTP 502 .*\(gave up after 4 attempts\)$/);
    expect(h.sim.control.getStats().faultsInjected.http502).toBe(4);
    await odoo.close();
  });

  it("a call's attempts and waits end within ODOO_CALL_DEADLINE_MS; the run history says so", async () => {
    const odoo = clientOf(h, {
      deadlineMs: 1500,
      retry: { attempts: 100, baseDelayMs: 50, maxDelayMs: 200 },
    });
    await odoo.authenticate();
    h.sim.control.injectFault({ kind: "http503", count: 10_000, path: "/xmlrpc/2/object" });
    const started = performance.now();
    const result = await sync(h.engineWith({ odoo }), job(), ["res.partner"], "full");
    expect(performance.now() - started).toBeLessThan(1500 + 3000);
    expect(result.status).toBe("failed");
    const { rows } = await h.store.pool.query("select error from etl.run_models where run_id = $1", [
      result.runId,
    ]);
    expect(rows[0].error).toMatch(
      /^OdooTransportError: res\.partner\.fields_get: no answer within the call's deadline of 1500 ms \(ODOO_CALL_DEADLINE_MS\) after \d+ attempts; the last: .*HTTP 503/,
    );
    await odoo.close();
  });

  it("a page over ODOO_MAX_RESPONSE_BYTES fails its model naming the call and the cap; the others commit; then it converges", async () => {
    const odoo = clientOf(h, { maxResponseBytes: 4 * 1024 * 1024 });
    const engine = h.engineWith({ odoo });
    h.sim.control.injectFault({
      kind: "huge",
      model: "account.move.line",
      method: "search_read",
      bytes: 1024 ** 3,
    });
    const models = ["account.move.line", "res.partner", "account.account"];
    const result = await sync(engine, job(), models, "full");
    expect(result.status).toBe("failed");
    expect(outcome(result, "account.move.line")?.error).toMatch(
      /^OdooTransportError: account\.move\.line\.search_read: the answer from POST \S+ is larger than ODOO_MAX_RESPONSE_BYTES \(4 MiB\): cut off after \d+(\.\d)? MiB without reading the rest; ask for smaller pages \(ODOO_PAGE_SIZE\) or raise ODOO_MAX_RESPONSE_BYTES$/,
    );
    expect(outcome(result, "res.partner")?.status).toBe("succeeded");
    expect(outcome(result, "account.account")?.status).toBe("succeeded");
    const next = await sync(engine, job(), models, "incremental");
    expect(next.status).toBe("succeeded");
    expect(await diffWithSource(h, models)).toEqual([]);
    await odoo.close();
  });

  it("a value nested 10 000 levels deep fails its page's model with a parse error; then it converges", async () => {
    const line = h.sim.store.ids("account.move.line")[10] as number;
    h.sim.control.injectFault({ kind: "deep", model: "account.move.line", field: "name", id: line });
    const result = await sync(h.engine, job(), ["account.move.line", "account.journal"], "full");
    expect(result.status).toBe("failed");
    expect(outcome(result, "account.move.line")?.error).toMatch(
      /^OdooTransportError: account\.move\.line\.search_read: POST \S+ answered HTTP 200 with invalid XML-RPC response: value nested deeper than 64 levels at offset \d+/,
    );
    expect(outcome(result, "account.journal")?.status).toBe("succeeded");
    h.sim.control.clearFaults();
    expect((await sync(h.engine, job(), ["account.move.line"], "full")).status).toBe("succeeded");
    expect(await diffWithSource(h, ["account.move.line", "account.journal"])).toEqual([]);
  });
});

describe("credentials never shown", () => {
  const PASSWORD = "S3cr3t&<Pa55w0rd>";
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_secrets", { version: 19, scale: 0.02, password: PASSWORD }, { pageSize: 100 });
  });
  afterAll(() => h?.close());

  it("a proxy echoing requests (login, reads; XML-RPC, JSON-RPC, JSON-2): not in errors, logs or the run history", async () => {
    let logs = "";
    const logger = createLogger({
      service: "etl-worker",
      version: "test",
      level: "debug",
      destination: {
        write: (line: string) => {
          logs += line;
        },
      },
    });
    for (const protocol of ["xmlrpc", "jsonrpc", "json2"] as const) {
      const odoo = clientOf(h, { protocol, retry: { attempts: 2, baseDelayMs: 5 } });
      const engine = h.engineWith({ odoo, logger });
      // at the login (the client's first call), then on a read
      h.sim.control.injectFault({ kind: "echo", count: 1 });
      const atLogin = await sync(engine, job({ logger }), ["res.currency"], "full");
      expect(atLogin.status).toBe("failed");
      await odoo.authenticate();
      h.sim.control.injectFault({ kind: "echo", count: 1 });
      const onRead = await sync(engine, job({ logger }), ["res.company"], "full");
      expect(onRead.status).toBe("failed");
      for (const result of [atLogin, onRead]) {
        expect(result.models[0]?.error).toMatch(/HTTP 400/);
        expect(JSON.stringify(result)).not.toContain("Pa55w0rd");
      }
      await odoo.close();
    }
    const { rows } = await h.store.pool.query(
      "select r.error as run, m.error as model, m.problems::text as problems from etl.runs r join etl.run_models m on m.run_id = r.id",
    );
    expect(rows.length).toBe(6);
    expect(JSON.stringify(rows)).not.toContain("Pa55w0rd");
    expect(logs).toContain("HTTP 400");
    expect(logs).not.toContain("Pa55w0rd");
    expect(logs).not.toContain(Buffer.from(PASSWORD).toString("base64"));
  });
});
