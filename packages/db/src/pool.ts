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
  /**
   * How long one statement may run, and one transaction may sit idle, before PostgreSQL ends it
   * (ms; 0 or unset: the server's or role's own settings). See `timeoutSettings`.
   */
  statementTimeoutMs?: number;
  /**
   * Run every statement as this role (`SET ROLE`, sent in the startup packet): the migrations run
   * as the schemas' owner on an admin's connection. Unset: the connecting user.
   */
  role?: string;
  /**
   * Told of every connection that fails while the pool holds it or a caller has it checked out
   * (a terminated backend, a restarted server, a reset socket): for a log line. The error itself is
   * handled: the query in flight rejects, the broken connection is discarded on release, and the
   * next query opens a new one.
   */
  onConnectionError?: (error: Error) => void;
}

/**
 * The session defaults a connection starts with, sent in its startup packet rather than by a SET
 * (a transaction-mode pooler such as PgBouncer's or Supabase's port 6543 would hand a SET's session
 * to the next client): `statement_timeout` stops a statement that runs away (a plan gone wrong, a
 * lock held by a migration) instead of holding its connection for as long as it takes, and
 * `idle_in_transaction_session_timeout` (the same value) ends the transaction of a client that
 * stopped in the middle of one (a frozen or partitioned process), whose locks would otherwise hold
 * up every other writer. PgBouncer refuses startup parameters it does not know unless they are in
 * its `ignore_startup_parameters` (which then drops them): there, set 0 and give the role the
 * settings instead (`alter role … set statement_timeout = '30s'`).
 */
export function timeoutSettings(statementTimeoutMs: number | undefined): Partial<pg.PoolConfig> {
  if (!statementTimeoutMs) return {};
  return {
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs,
  };
}

/** TCP keepalive probes start after this long without traffic on a connection (ms). */
export const KEEPALIVE_INITIAL_DELAY_MS = 10_000;

/**
 * A pg pool safe behind a transaction-mode pooler (Supabase's port 6543): no named prepared
 * statements, no session SET; everything a statement needs travels with it.
 *
 * No connection error ever crashes the process. pg-pool listens for errors on idle clients only; a
 * client checked out (by Kysely for a transaction, by a COPY, by a server-side cursor) that loses
 * its connection emits 'error' with nobody listening, which Node turns into an uncaught exception.
 * So every client gets a listener of its own for its whole life: the failure reaches the caller
 * as the rejection of its query, and the broken client is dropped when it is released.
 */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    ...connectionOptions(options.url),
    max: options.max ?? 10,
    application_name: options.applicationName ?? "finanzas",
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    idleTimeoutMillis: 30_000,
    // Probes on a quiet connection, so one a NAT or firewall dropped (or a server that vanished
    // without closing it) is found broken instead of hanging the next query.
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
    ...timeoutSettings(options.statementTimeoutMs),
    ...(options.role ? { options: `-c role=${options.role}` } : {}),
    types: customTypes,
  });
  // An idle client losing its connection: pg-pool removes it and re-emits the error here (told
  // through the client's own listener below); the next query connects anew.
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    let told = false; // a terminated backend says so, then its socket closes: one report per client
    client.on("error", (error: Error) => {
      if (told) return;
      told = true;
      options.onConnectionError?.(error);
    });
  });
  return pool;
}

/**
 * One connection of its own for `fn` (migrations, role grants, creating the database: work that
 * needs a session, not a pool), closed after. A connection lost between statements (a restart, a
 * terminated backend) is an 'error' event, which without a listener ends the process; the
 * statement that needs it fails with it instead.
 */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...connectionOptions(url), connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
