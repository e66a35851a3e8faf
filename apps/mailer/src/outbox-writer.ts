import type { Db } from "@finanzas/ledger";
import { claimMany, type Outcome, settleMany } from "@finanzas/mail";

/*
 * The outbox writes of this process's sends, grouped: the claims asked for while claim statements
 * are under way (two at most) go together in the next one, and the outcomes likewise (one at a
 * time): `claimMany` and `settleMany`, one round trip for many rows. A claim, which its message
 * waits for, never waits behind outcomes, which nothing waits for. With few messages in flight each
 * goes alone, at once; with many, a round trip serves them all (a statement waits for the end of
 * the event loop's turn, so that what the turn asked for goes together). Rows still change one by
 * one in the database: a claim is made right before its message goes to the server, an outcome
 * right after it came back.
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

/** Requests written together by one statement at a time. */
function grouped<T, R>(write: (items: T[]) => Promise<R[]>, parallel: number): (item: T) => Promise<R> {
  let pending: (Pending<R> & { item: T })[] = [];
  let writing = 0;
  let scheduled = false;
  const schedule = () => {
    if (scheduled || writing >= parallel || pending.length === 0) return;
    scheduled = true;
    // at the end of this turn of the event loop, so that what the turn asked for goes together
    setImmediate(() => {
      scheduled = false;
      void flush();
    });
  };
  async function flush(): Promise<void> {
    if (writing >= parallel || pending.length === 0) return;
    writing++;
    const batch = pending;
    pending = [];
    try {
      const results = await write(batch.map((p) => p.item));
      for (const [i, p] of batch.entries()) p.resolve(results[i]!);
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      writing--;
      schedule();
    }
  }
  return (item) =>
    new Promise<R>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      schedule();
    });
}

export function createOutboxWriter(db: Db, instance: string): OutboxWriter {
  const claim = grouped<string, number | null>(async (ids) => {
    const claimed = await claimMany(db, ids, instance);
    return ids.map((id) => claimed.get(id) ?? null);
  }, 2);
  const settle = grouped<{ id: string; outcome: Outcome }, boolean>(async (outcomes) => {
    const settled = await settleMany(db, instance, outcomes);
    return outcomes.map((o) => settled.has(o.id));
  }, 1);
  return { claim, settle: (id, outcome) => settle({ id, outcome }) };
}
