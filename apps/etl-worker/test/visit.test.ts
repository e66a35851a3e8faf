import { REGISTRY } from "@finanzas/ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { inProcessReader } from "../src/odoo/pages.js";
import { currencyDecimals, fieldsGet, fullPage, resolveModel, type Source } from "../src/odoo/source.js";
import { createTransformer, type Problem } from "../src/transform.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

/*
 * A full pass decodes XML-RPC straight into the encoded page (no record objects, many2one names
 * stepped over). Over real HTTP from the simulator, with hostile texts in names that are both read
 * as text and stepped over as many2one names, it must give exactly what decoding into objects and
 * encoding those gives, on every model, for both encodings, problems included.
 */

const HOSTILE = [
  "a < b & c > d",
  "tab\there, line\nbreak\r\nCR\r",
  "\\N \\. back\\slash",
  "quotes \"double\" 'single'",
  "Ærøskøbing Ünïcödé 北京 🧾",
  "]]> <![CDATA[ not cdata",
  "&amp; &#60; literal entities",
  "",
];

for (const version of [17, 19] as const) {
  describe(`decoding pages straight into the encoded page (Odoo ${version}, ${version === 17 ? "XML-RPC" : "JSON-2"})`, () => {
    let h: Harness;
    let source: Source;
    beforeAll(async () => {
      h = await harness(`etl_visit_${version}`, { version, scale: 0.03 });
      const partners = h.sim.store.ids("res.partner").slice(0, HOSTILE.length);
      for (const [i, id] of partners.entries())
        h.sim.control.update("res.partner", [id], { name: HOSTILE[i] });
      const moves = h.sim.store.ids("account.move").slice(0, HOSTILE.length);
      for (const [i, id] of moves.entries()) h.sim.control.update("account.move", [id], { ref: HOSTILE[i] });
      source = { client: h.odoo };
    });
    afterAll(() => h?.close());

    it("gives the same pages as decoding into objects, for every model", async () => {
      const decimals = await currencyDecimals(source);
      expect(await h.odoo.protocol()).toBe(version === 17 ? "xmlrpc" : "json2");
      for (const spec of REGISTRY) {
        const { columns } = resolveModel(spec, await fieldsGet(source, spec.model));
        const fields = columns.map((c) => c.name);
        const t = createTransformer(spec.model, columns, decimals);
        const options = { fields, order: "id asc", limit: 150 };
        let afterId = 0;
        for (let pages = 0; pages < 3; pages++) {
          const domain: [string, string, number][] = [["id", ">", afterId]];
          const records = await h.odoo.searchRead(spec.model, domain, options);
          for (const format of ["copy", "arrays"] as const) {
            const problems: Problem[] = [];
            const expected =
              format === "copy"
                ? t.encodeCopy(records, (p) => problems.push(...p))
                : t.encode(records, (p) => problems.push(...p));
            const visitor = t.visitor(format);
            const page = await h.odoo.searchReadPage(spec.model, domain, options);
            expect(page.visit(visitor)).toBe(records.length);
            const out = visitor.finish();
            expect(out.encoded, `${spec.model} ${format} after ${afterId}`).toEqual(expected);
            expect(out.problems).toEqual(problems);
            expect(out.fetched).toBe(records.length);
            expect(out.lastId).toBe(records.at(-1)?.id ?? null);
            if (records.length === 150) expect(page.lastIdHint()).toBe(records.at(-1)?.id);
          }
          if (records.length < 150) break;
          afterId = records.at(-1)?.id ?? afterId;
        }
      }
    });

    it("asks Odoo for many2one ids without their display names, and encodes the same page", async () => {
      const model = "account.move.line";
      const spec = REGISTRY.find((m) => m.model === model)!;
      const { columns } = resolveModel(spec, await fieldsGet(source, model));
      const fields = columns.map((c) => c.name);
      const many2one = columns.filter((c) => c.kind === "many2one").map((c) => c.name);
      expect(many2one).toEqual(expect.arrayContaining(["partner_id", "account_id", "move_id"]));
      const { records } = await fullPage(source, model, fields, 0, 100);
      const named = await h.odoo.searchRead(model, [["id", ">", 0]], { fields, order: "id asc", limit: 100 });
      expect(records.map((r) => r.id)).toEqual(named.map((r) => r.id));
      for (const [i, r] of records.entries()) {
        for (const f of many2one) {
          const withName = named[i]?.[f];
          // the id alone where Odoo would have sent [id, "name"]
          expect(r[f], `${f} of ${r.id}`).toEqual(Array.isArray(withName) ? withName[0] : withName);
        }
      }
      expect(records.some((r) => typeof r.partner_id === "number")).toBe(true);
      const t = createTransformer(model, columns, await currencyDecimals(source));
      expect(t.encode(records, () => {})).toEqual(t.encode(named, () => {}));
    });

    it("a full sync through it equals the source, hostile names included", async () => {
      const result = await sync(
        h.engine,
        job(),
        REGISTRY.map((m) => m.model),
        "full",
      );
      expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
      expect(await diffWithSource(h)).toEqual([]);
      const names = await h.store.pool.query<{ name: string }>(
        "select name from odoo.res_partner where name = any($1)",
        [HOSTILE],
      );
      expect(new Set(names.rows.map((r) => r.name))).toEqual(new Set(HOSTILE));
    });
  });
}

describe("COPY pages' bytes given back (PageReader.recycle)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_recycle", { version: 17, scale: 0.03 });
  });
  afterAll(() => h?.close());

  it("go into the next COPY page, which holds exactly its own bytes", async () => {
    const source: Source = { client: h.odoo };
    const model = "account.move.line";
    const spec = REGISTRY.find((m) => m.model === model)!;
    const { columns } = resolveModel(spec, await fieldsGet(source, model));
    const request = {
      model,
      fields: columns.map((c) => c.name),
      columns,
      decimals: await currencyDecimals(source),
      limit: 120,
      copy: true,
    };
    const reader = inProcessReader();
    const fresh = inProcessReader(); // never given anything back: the reference bytes
    const first = await reader.full(request, 0, source);
    const reused = first.encoded.format === "copy" ? first.encoded.data.buffer : undefined;
    expect(reused).toBeInstanceOf(ArrayBuffer);
    expect(reader.recycle?.(first.encoded)).toBe(true);
    const second = await reader.full(request, first.lastId ?? 0, source);
    expect(second.encoded.format === "copy" && second.encoded.data.buffer).toBe(reused);
    const expected = await fresh.full(request, first.lastId ?? 0, source);
    const bytesOf = (s: typeof second) => (s.encoded.format === "copy" ? Buffer.from(s.encoded.data) : null);
    expect(bytesOf(second)?.equals(bytesOf(expected) as Buffer)).toBe(true);
    expect(second.encoded.rows).toBe(120);
    // An array page (an update) has no bytes to give back.
    const arrays = await reader.full({ ...request, copy: false }, 0, source);
    expect(reader.recycle?.(arrays.encoded)).toBe(false);
    await reader.close();
    await fresh.close();
  });
});

describe("a page with a value of an unexpected type", () => {
  it("reports it with model, id and field and writes the rest", () => {
    const t = createTransformer(
      "account.move",
      [
        { name: "name", kind: "char" },
        { name: "partner_id", kind: "many2one" },
      ],
      new Map(),
    );
    const visitor = t.visitor("copy");
    for (const values of [
      [1, "ok", 5],
      [2, 7, 5],
      [3, "fine", [0, "bad id"]],
      [4, "last", false],
    ]) {
      visitor.record(values);
    }
    const out = visitor.finish();
    expect(out.problems.map((p) => `${p.id} ${p.field} ${p.value}`)).toEqual([
      "2 name 7",
      '3 partner_id [0,"bad id"]',
    ]);
    expect(out.encoded.format === "copy" && Buffer.from(out.encoded.data).toString()).toBe(
      "1\tok\t5\n4\tlast\t\\N\n",
    );
    expect(out.encoded.rows).toBe(2);
    expect(out.fetched).toBe(4);
    expect(out.lastId).toBe(4);
  });
});
