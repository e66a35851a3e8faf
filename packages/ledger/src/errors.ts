/*
 * What a finance query can refuse, as domain errors: each service maps them to its own answer
 * (the web-api to problem+json with the status named here, a report job to a failed report that
 * says why). A query never throws an HTTP type.
 */

/** One parameter of a query that is wrong, by its name in the query (`cursor`, `from`, `asOf`). */
export interface ParamError {
  param: string;
  message: string;
}

export abstract class LedgerError extends Error {
  /** The HTTP status that fits: 400 bad parameters, 404 not found, 422 not answerable here, 503 not yet. */
  abstract readonly status: 400 | 404 | 422 | 503;
  constructor(
    message: string,
    readonly params: readonly ParamError[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A parameter the query cannot use (an unknown sort, a foreign cursor, a period the wrong way round). */
export class InvalidQueryError extends LedgerError {
  readonly status = 400;
}

/** The record asked for (a partner, an invoice, a company) is not in the synced copy. */
export class NotFoundError extends LedgerError {
  readonly status = 404;
}

/** A valid question this copy cannot answer (a past date without the reconciliation history). */
export class UnanswerableError extends LedgerError {
  readonly status = 422;
}

/** The synced copy is not ready for this question yet (a first sync still running): retry later. */
export class NotSyncedError extends LedgerError {
  readonly status = 503;
}
