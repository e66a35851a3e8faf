/**
 * Where Odoo is read. Field lists are resolved against the server's fields_get; pages are read by
 * keyset (id, or write_date then id), never by offset over a moving set; every call passes
 * `active_test: false` so archived records come too. Transport errors are retried by the Odoo
 * client alone, every attempt of a call within ODOO_CALL_DEADLINE_MS: this layer adds no retries of
 * its own (attempts would multiply), it passes the task's abort signal and hears each retry.
 */

import type { FieldKind, FieldSpec, ModelSpec } from "@finanzas/ledger";
import {
  type Domain,
  type FieldsMeta,
  OdooAccessError,
  type OdooClient,
  type OdooRecord,
  type RecordPage,
  type RequestOptions,
  type RetryInfo,
} from "@finanzas/odoo";
import { decimalsOfRounding } from "../transform.js";

export const CONTEXT = { active_test: false } as const;

/**
 * How records are read: many2one fields as bare ids (`load: ""`, which search_read hands to read).
 * The copy keeps only the id; Odoo would otherwise compute every referenced record's display name
 * (a query and Python per related model per page) and send it, a fifth of a journal item page's
 * bytes, for the decoder to skip.
 */
const RECORDS = { context: CONTEXT, load: "" } as const;

/** Server field types each registry kind accepts. */
const COMPATIBLE: Record<FieldKind, readonly string[]> = {
  char: ["char", "text", "html", "selection"],
  text: ["char", "text", "html", "selection"],
  html: ["char", "text", "html", "selection"],
  selection: ["selection", "char"],
  integer: ["integer"],
  float: ["float", "monetary"],
  monetary: ["monetary", "float"],
  boolean: ["boolean"],
  date: ["date"],
  datetime: ["datetime"],
  many2one: ["many2one"],
  many2many: ["many2many", "one2many"],
  json: ["json", "properties"],
};

export interface ResolvedModel {
  spec: ModelSpec;
  /** Columns this server can fill, with their currency field from fields_get when it names one. */
  columns: FieldSpec[];
  /** Wanted fields the server lacks (or has with another type, or not stored), as text. */
  missing: string[];
  /** Company-dependent fields this server computes per company (see `rereadPerCompany`). */
  perCompany?: PerCompanyFields;
}

/** Fields whose value depends on env.company, and the record's company field (many2one or many2many). */
export interface PerCompanyFields {
  fields: string[];
  companyField: string;
}

export function resolveModel(spec: ModelSpec, meta: FieldsMeta): ResolvedModel {
  const columns: FieldSpec[] = [];
  const missing: string[] = [];
  for (const entry of spec.fields) {
    const options = "oneOf" in entry ? entry.oneOf : [entry];
    const reasons: string[] = [];
    let found: FieldSpec | undefined;
    for (const field of options) {
      const m = meta[field.name];
      if (!m) {
        reasons.push(field.name);
        continue;
      }
      if (!COMPATIBLE[field.kind].includes(m.type)) {
        reasons.push(`${field.name} (${m.type} on the server, wanted ${field.kind})`);
        continue;
      }
      if (m.store === false && !field.computed) {
        reasons.push(`${field.name} (not stored on this server)`);
        continue;
      }
      const currencyField = typeof m.currency_field === "string" ? m.currency_field : undefined;
      found = currencyField && field.kind === "monetary" ? { ...field, currency: currencyField } : field;
      break;
    }
    if (found) columns.push(found);
    else missing.push(reasons.join(" | "));
  }
  const dependent = columns.filter((c) => c.perCompany && meta[c.name]?.store === false).map((c) => c.name);
  const companyField = columns.find((c) => c.name === "company_ids" || c.name === "company_id")?.name;
  return {
    spec,
    columns,
    missing,
    ...(dependent.length && companyField ? { perCompany: { fields: dependent, companyField } } : {}),
  };
}

export interface Source {
  client: OdooClient;
  /** Aborts every call of the task (its lease lost, its job cancelled): requests in flight dropped. */
  signal?: AbortSignal | undefined;
  /** Told before each retry the client makes of one of the task's calls (for the task's log). */
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

/** Every call of a task: its abort signal, and its retries heard. */
const request = (source: Source): RequestOptions => ({ signal: source.signal, onRetry: source.onRetry });

const call = <T>(
  source: Source,
  fn: (client: OdooClient, options: RequestOptions) => Promise<T>,
): Promise<T> => fn(source.client, request(source));

export const fieldsGet = (source: Source, model: string): Promise<FieldsMeta> =>
  call(source, (c, o) =>
    c.fieldsGet(model, {
      attributes: ["type", "store", "relation", "currency_field"],
      context: CONTEXT,
      ...o,
    }),
  );

/** Currency id → decimals, from `decimal_places` (or the rounding factor when it is not readable). */
export async function currencyDecimals(source: Source): Promise<Map<number, number>> {
  const meta = await fieldsGet(source, "res.currency");
  // Only what the server has (asking for an unknown field is a fault); with neither, amounts are
  // stored as sent, unrounded.
  const fields = ["rounding", "decimal_places"].filter((f) => meta[f]);
  if (fields.length === 0) return new Map();
  const records = await call(source, (c, o) =>
    c.searchRead("res.currency", [], { fields, context: CONTEXT, order: "id asc", ...o }),
  );
  const out = new Map<number, number>();
  for (const r of records) {
    const dp =
      typeof r.decimal_places === "number"
        ? r.decimal_places
        : typeof r.rounding === "number"
          ? decimalsOfRounding(r.rounding)
          : undefined;
    if (dp !== undefined && dp >= 0 && dp <= 12) out.set(r.id, dp);
  }
  return out;
}

export const searchRead = (
  source: Source,
  model: string,
  domain: Domain,
  fields: readonly string[],
  order: string,
  limit: number,
): Promise<OdooRecord[]> =>
  call(source, (c, o) => c.searchRead(model, domain, { fields, order, limit, ...RECORDS, ...o }));

export const read = (source: Source, model: string, ids: readonly number[], fields: readonly string[]) =>
  call(source, (c, o) => c.read(model, ids, fields, { ...RECORDS, ...o }));

export const searchIds = (source: Source, model: string, domain: Domain, limit = 0) =>
  call(source, (c, o) =>
    c.search(model, domain, { order: "id asc", ...(limit ? { limit } : {}), context: CONTEXT, ...o }),
  );

export const searchCount = (source: Source, model: string, domain: Domain) =>
  call(source, (c, o) => c.searchCount(model, domain, { context: CONTEXT, ...o }));

/** The first company id of a many2one (`[id, name]` or a bare id) or many2many (`[id, …]`) value. */
function firstCompany(value: unknown): number | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === "number" && first > 0 ? first : undefined;
}

const empty = (v: unknown) => v === false || v === null || v === undefined || v === "";

/**
 * Company-dependent fields (account.account `code` on 18+) come back as the value of env.company:
 * the user's main company unless `allowed_company_ids` says otherwise, so an account of another
 * company reads as empty. For the records where every such field came back empty, they are read
 * again in the context of the record's own (first) company, one `read` per company, and replaced
 * in `records`. A company the user may not act as (access error) keeps what the first read gave.
 */
export async function rereadPerCompany(
  source: Source,
  model: string,
  records: OdooRecord[],
  perCompany: PerCompanyFields | undefined,
): Promise<void> {
  if (!perCompany || records.length === 0) return;
  const byCompany = new Map<number, OdooRecord[]>();
  for (const r of records) {
    if (!perCompany.fields.every((f) => empty(r[f]))) continue;
    const company = firstCompany(r[perCompany.companyField]);
    if (company === undefined) continue;
    const group = byCompany.get(company);
    if (group) group.push(r);
    else byCompany.set(company, [r]);
  }
  for (const [company, group] of byCompany) {
    let again: OdooRecord[];
    try {
      again = await call(source, (c, o) =>
        c.read(
          model,
          group.map((r) => r.id),
          perCompany.fields,
          { ...RECORDS, context: { ...CONTEXT, allowed_company_ids: [company] }, ...o },
        ),
      );
    } catch (error) {
      if (error instanceof OdooAccessError) continue;
      throw error;
    }
    const values = new Map(again.map((r) => [r.id, r]));
    for (const r of group) {
      const v = values.get(r.id);
      if (v) for (const f of perCompany.fields) r[f] = v[f];
    }
  }
}

/** The id at `offset` in id order (0-based), or undefined past the end: where a partition ends. */
export async function idAtOffset(source: Source, model: string, offset: number): Promise<number | undefined> {
  const ids = await call(source, (c, o) =>
    c.search(model, [], { order: "id asc", offset, limit: 1, context: CONTEXT, ...o }),
  );
  return ids[0];
}

/** The highest id of a model on the server (0 when it has none). */
export async function maxId(source: Source, model: string): Promise<number> {
  const ids = await call(source, (c, o) =>
    c.search(model, [], { order: "id desc", limit: 1, context: CONTEXT, ...o }),
  );
  return ids[0] ?? 0;
}

/** `2024-03-01 12:00:05` (Odoo's UTC datetime text) from epoch seconds. */
export const odooSecond = (seconds: number): string =>
  new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");

/** Epoch seconds of Odoo's `write_date` text, truncated to the second. */
export function secondOf(writeDate: unknown): number | null {
  if (typeof writeDate !== "string") return null;
  const ms = Date.parse(`${writeDate.slice(0, 19).replace(" ", "T")}Z`);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/**
 * Where an incremental read stands: every record with write_date ≥ `second` is still to read
 * (afterId null), or, inside a burst second, those of `second` with id > `afterId`, then ≥ second+1.
 */
export interface Position {
  second: number;
  afterId: number | null;
}

export interface Page {
  /** Records to write, in (write_date second, id) order. */
  records: OdooRecord[];
  next: Position;
  /** No record after this page (as of this read). */
  done: boolean;
}

/**
 * The next page of records with write_date ≥ the position, portable across Odoo's datetime
 * comparisons (microseconds up to 18, whole seconds from 18.4/19) and never by offset: a page
 * yields only whole seconds (the last, possibly partial, second of a full page is read again by
 * the next page), and a second holding more records than a page (a same-second burst) is read by
 * id inside it. Rows written meanwhile get a newer write_date and come later in this run or the next.
 */
export async function incrementalPage(
  source: Source,
  model: string,
  fields: readonly string[],
  from: Position,
  limit: number,
  until?: number | null,
): Promise<Page> {
  // A window's range ends before a whole second (exclusive), the same on every version.
  const end: Domain = until === undefined || until === null ? [] : [["write_date", "<", odooSecond(until)]];
  if (from.afterId !== null) {
    const records = await searchRead(
      source,
      model,
      [
        ["write_date", ">=", odooSecond(from.second)],
        ["write_date", "<", odooSecond(from.second + 1)],
        ["id", ">", from.afterId],
      ],
      fields,
      "id asc",
      limit,
    );
    const last = records.at(-1);
    const next =
      records.length < limit || !last
        ? { second: from.second + 1, afterId: null }
        : { second: from.second, afterId: last.id };
    return { records, next, done: false };
  }
  const records = await searchRead(
    source,
    model,
    [["write_date", ">=", odooSecond(from.second)], ...end],
    fields,
    "write_date asc, id asc",
    limit,
  );
  if (records.length < limit) return { records, next: from, done: true };
  const lastSecond = secondOf(records.at(-1)?.write_date);
  if (lastSecond === null) throw new Error(`${model}: a record without write_date in an incremental page`);
  const complete = records.filter((r) => (secondOf(r.write_date) ?? lastSecond) < lastSecond);
  if (complete.length === 0) return { records: [], next: { second: lastSecond, afterId: 0 }, done: false };
  return { records: complete, next: { second: lastSecond, afterId: null }, done: false };
}

/**
 * The write_date second of the record at `offset` (0-based) among those written since `second`, in
 * the incremental order (write_date, id); undefined past the end: where a window's range starts.
 */
export async function secondAtOffset(
  source: Source,
  model: string,
  second: number,
  offset: number,
): Promise<number | undefined> {
  const records = await call(source, (c, o) =>
    c.searchRead(model, [["write_date", ">=", odooSecond(second)]], {
      fields: ["write_date"],
      order: "write_date asc, id asc",
      offset,
      limit: 1,
      context: CONTEXT,
      ...o,
    }),
  );
  return secondOf(records[0]?.write_date) ?? undefined;
}

/** A full pass's keyset: ids above `afterId`, up to `toId` (included) when a partition ends there. */
export const idRange = (afterId: number, toId?: number | null): Domain =>
  toId === undefined || toId === null
    ? [["id", ">", afterId]]
    : [
        ["id", ">", afterId],
        ["id", "<=", toId],
      ];

/** The next page of a full pass: ids above `afterId` (up to `toId`), ascending. */
export async function fullPage(
  source: Source,
  model: string,
  fields: readonly string[],
  afterId: number,
  limit: number,
  toId?: number | null,
): Promise<{ records: OdooRecord[]; done: boolean }> {
  const records = await searchRead(source, model, idRange(afterId, toId), fields, "id asc", limit);
  return { records, done: records.length < limit };
}

/**
 * The same page as `fullPage`, not yet decoded: its records go straight to a visitor (the engine's
 * encoder), with no object per record.
 */
export const fullPageRaw = (
  source: Source,
  model: string,
  fields: readonly string[],
  afterId: number,
  limit: number,
  toId?: number | null,
): Promise<RecordPage> =>
  call(source, (c, o) =>
    c.searchReadPage(model, idRange(afterId, toId), {
      fields,
      order: "id asc",
      limit,
      ...RECORDS,
      ...o,
    }),
  );
