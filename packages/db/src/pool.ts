import pg from "pg";

const { types: pgTypes } = pg;

const INT8 = 20;
const NUMERIC = 1700;
const DATE = 1082;
const TIMESTAMP = 1114;
const TEXT_ARRAY = 1009;
const INT8_ARRAY = 1016;
const NUMERIC_ARRAY = 1231;
const DATE_ARRAY = 1182;

/** int8 as a JS number, but never silently rounded: values beyond 2^53 throw instead. */
export function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`int8 value ${text} does not fit a JavaScript number without losing precision`);
  }
  return value;
}

const parseTextArray = (pgTypes.getTypeParser as (oid: number, format: "text") => unknown)(
  TEXT_ARRAY,
  "text",
) as (text: string) => (string | null)[];

/**
 * Type parsers so runtime values match the declared types: numeric/decimal stay exact decimal
 * strings (money never passes through a float), int8 is a safe number or an error, `date` is
 * 'YYYY-MM-DD' (no time-zone shift), `timestamp without time zone` is read as UTC.
 */
export const typeParsers: Record<number, (text: string) => unknown> = {
  [INT8]: parseInt8,
  [NUMERIC]: (text) => text,
  [DATE]: (text) => text,
  [TIMESTAMP]: (text) => new Date(`${text.replace(" ", "T")}Z`),
  [INT8_ARRAY]: (text) => parseTextArray(text).map((v) => (v === null ? null : parseInt8(v))),
  [NUMERIC_ARRAY]: parseTextArray,
  [DATE_ARRAY]: parseTextArray,
};

export const customTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    typeParsers[oid] ??
    pgTypes.getTypeParser(oid, format ?? "text")) as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * TLS settings from the URL's `sslmode` the way libpq reads it (Supabase URLs carry
 * `sslmode=require`): disable → no TLS; allow/prefer/require → TLS without certificate checks;
 * verify-ca/verify-full → TLS with verification. The parameter is removed from the URL so pg's
 * own parser cannot override the choice.
 */
export function connectionOptions(url: string): { connectionString: string; ssl: pg.PoolConfig["ssl"] } {
  const parsed = new URL(url);
  const mode = parsed.searchParams.get("sslmode");
  parsed.searchParams.delete("sslmode");
  let ssl: pg.PoolConfig["ssl"] = false;
  if (mode === "allow" || mode === "prefer" || mode === "require" || mode === "no-verify") {
    ssl = { rejectUnauthorized: false };
  } else if (mode === "verify-ca" || mode === "verify-full") {
    ssl = { rejectUnauthorized: true };
  }
  return { connectionString: parsed.toString(), ssl };
}

export interface PoolOptions {
  url: string;
  max?: number;
  applicationName?: string;
  connectionTimeoutMillis?: number;
}

/**
 * A pg pool safe behind a transaction-mode pooler (Supabase's port 6543): no named prepared
 * statements, no session SET; everything a statement needs travels with it.
 */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    ...connectionOptions(options.url),
    max: options.max ?? 10,
    application_name: options.applicationName ?? "finanzas",
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    idleTimeoutMillis: 30_000,
    types: customTypes,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  return pool;
}
