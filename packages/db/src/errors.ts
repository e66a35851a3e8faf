/**
 * PostgreSQL failures that say nothing about the statement: the server went away, is restarting,
 * refused the connection or cannot take one more. The same statement may well succeed in a moment,
 * so callers answer 503 (the API), roll back and resume (the ETL) or retry the job (reports, mail)
 * instead of treating it as a fault of the request.
 */

/**
 * SQLSTATEs of a lost or refused connection: class 08 (connection exception), 57P01
 * admin_shutdown (pg_terminate_backend, a fast shutdown), 57P02 crash_shutdown (another backend
 * crashed), 57P03 cannot_connect_now (starting up, shutting down, in recovery), 57P05
 * idle_session_timeout, 53300 too_many_connections.
 */
const CONNECTION_STATES = new Set([
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "57P01",
  "57P02",
  "57P03",
  "57P05",
  "53300",
]);

/** Socket errors of a server that is down, restarting or unreachable for now. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * What pg and pg-pool say when a connection ends under a query, cannot be had in time
 * (connectionTimeoutMillis), or is used after it broke; Kysely's after a failed rollback.
 */
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Postgres connection has been discarded|the database system is (starting up|shutting down|in recovery mode)/i;

/** True when `error` (or one of its causes) is a lost, refused or exhausted connection to PostgreSQL. */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const { code, message, cause, errors } = e as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === "string" && (CONNECTION_STATES.has(code) || SOCKET_CODES.has(code))) return true;
    if (typeof message === "string" && CONNECTION_MESSAGES.test(message)) return true;
    // net's AggregateError (every address of a host refused) carries the per-address errors
    if (Array.isArray(errors) && errors.some((inner) => isConnectionError(inner))) return true;
    e = cause;
  }
  return false;
}
