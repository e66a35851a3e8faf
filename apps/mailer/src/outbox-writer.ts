import type { Db } from "@finanzas/ledger";
import { type Outcome, settleAndClaim } from "@finanzas/mail";

/*
 * The outbox writes of this process's sends, grouped: every claim and every outcome asked for
 * while statements are under way (at most two) go together in the next one (one round trip for
 * many rows, `settleAndClaim`). With few messages in flight each goes alone, at once; with many,
 * a round trip serves them all (a statement waits for the end of the event loop's turn, so that
 * what the turn asked for goes together). Rows still change one by one in the database: a claim is
 * made right before its message goes to the server, an outcome right after it came back.
 */

export interface OutboxWriter {
  /** Claims a row for sending; resolves to its attempts (this one included), or null when it was not claimable. */
  claim(id: string): Promise<number | null>;
  /** Records a claimed row's outcome; resolves to whether the row moved (it was still ours). */
  settle(id: string, outcome: Outcome): Promise<boolean>;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Statements under way at once: a claim never waits behind more than one other statement. */
const IN_FLIGHT = 2;

export function createOutboxWriter(db: Db, instance: string): OutboxWriter {
  let claims: (Pending<number | null> & { id: string })[] = [];
  let outcomes: (Pending<boolean> & { id: string; outcome: Outcome })[] = [];
  let writing = 0;
  let scheduled = false;

  // at the end of this turn of the event loop, so that what the turn asked for goes together
  const schedule = () => {
    if (scheduled || writing >= IN_FLIGHT || (claims.length === 0 && outcomes.length === 0)) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void write();
    });
  };

  async function write(): Promise<void> {
    if (writing >= IN_FLIGHT || (claims.length === 0 && outcomes.length === 0)) return;
    writing++;
    const c = claims;
    const o = outcomes;
    claims = [];
    outcomes = [];
    try {
      const { claimed, settled } = await settleAndClaim(
        db,
        instance,
        o,
        c.map((x) => x.id),
      );
      for (const x of c) x.resolve(claimed.get(x.id) ?? null);
      for (const x of o) x.resolve(settled.has(x.id));
    } catch (error) {
      for (const x of [...c, ...o]) x.reject(error);
    } finally {
      writing--;
      schedule();
    }
  }

  return {
    claim(id) {
      return new Promise((resolve, reject) => {
        claims.push({ id, resolve, reject });
        schedule();
      });
    },
    settle(id, outcome) {
      return new Promise((resolve, reject) => {
        outcomes.push({ id, outcome, resolve, reject });
        schedule();
      });
    },
  };
}
