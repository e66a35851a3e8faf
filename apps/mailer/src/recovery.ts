import { sql } from "@finanzas/db";
import type { Db } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import { recoverStale, sendingInstances, waitingSince } from "@finanzas/mail";
import type { Redis } from "ioredis";
import type { SendQueue } from "./send-queue.js";

/*
 * What the queue may have lost, found from the outbox (the rows in PostgreSQL are the truth).
 *
 * A message is `sending` only between its claim and the record of its outcome. When the mailer
 * that claimed it dies in between, the message may or may not have reached the server: it becomes
 * `unknown`, for a person to decide. Each mailer process keeps a heartbeat key in Redis; at start
 * and every `intervalMs`, `sending` rows whose mailer has no heartbeat any more (or that have been
 * sending for longer than `sendingTimeoutSeconds`) are marked unknown.
 *
 * A message is `queued` (or `retry`) with a job that will send it, written after the row: a resend
 * whose enqueue failed (Redis down between the two writes), a planning whose enqueue failed for
 * good, or jobs lost with a Redis that restarted empty leave rows with no job. Rows of a sending
 * mailing that nothing moved for `requeueAfterSeconds` and that no job still to run names get a
 * send-message job, its id derived from the row and its attempts (the resend's own): every replica
 * may sweep at once, and a row never gets two jobs of one id (a row whose job of that id failed for
 * good stays waiting, that job kept failed in the queue for a person to see, not retried in a loop).
 * Sending stays exactly once whatever the jobs: a row is claimed atomically before it goes.
 *
 * A mailing still `planning` `requeueAfterSeconds` after it was asked for, with no plan-mailing job
 * (its id is the mailing's) in the queue, gets its planning again: one waiting for the first sync
 * holds a delayed job for as long as that takes, and a Redis restarted empty meanwhile would leave
 * it planning for ever. A planning run twice writes nothing twice (writeOutbox).
 */

export interface RecoveryOptions {
  db: Db;
  redis: Redis;
  prefix: string;
  instance: string;
  intervalMs: number;
  sendingTimeoutSeconds: number;
  /** Enqueues rows and plannings left without a job; without it, nothing is enqueued again. */
  queue?: Pick<SendQueue, "pending" | "sendEach" | "planEach"> | undefined;
  /** How long a waiting row of a sending mailing stays untouched before its job is looked for. */
  requeueAfterSeconds?: number | undefined;
  logger: Logger;
}

/** Most rows one sweep enqueues again (the next sweep takes the rest). */
const REQUEUE_LIMIT = 10_000;

const keyOf = (prefix: string, instance: string) => `${prefix}:mailer:instance:${instance}`;

export function createRecovery(o: RecoveryOptions) {
  let timer: NodeJS.Timeout | undefined;
  const beat = () => o.redis.set(keyOf(o.prefix, o.instance), String(Date.now()), "PX", o.intervalMs * 3);

  async function markUnknown(): Promise<number> {
    const holders = await sendingInstances(o.db);
    const alive = new Set([o.instance]);
    if (holders.length) {
      const beats = await o.redis.mget(...holders.map((h) => keyOf(o.prefix, h)));
      holders.forEach((h, i) => {
        if (beats[i] !== null) alive.add(h);
      });
    }
    const recovered = await recoverStale(o.db, [...alive], o.sendingTimeoutSeconds);
    if (recovered.length) {
      o.logger.warn(
        { messages: recovered.map((r) => r.id) },
        `${recovered.length} message(s) left sending by a mailer that stopped are now unknown: check and resend them by hand`,
      );
    }
    return recovered.length;
  }

  async function requeue(): Promise<number> {
    if (!o.queue) return 0;
    const waiting = await waitingSince(o.db, o.requeueAfterSeconds ?? 300, REQUEUE_LIMIT);
    if (waiting.length === 0) return 0;
    const pending = await o.queue.pending();
    const orphans = waiting.filter((m) => !pending.has(m.id));
    if (orphans.length === 0) return 0;
    const added = await o.queue.sendEach(orphans);
    if (added > 0) {
      o.logger.warn(
        { messages: orphans.slice(0, 100).map((m) => m.id) },
        `${added} message(s) waiting to be sent had no job in the queue: enqueued again`,
      );
    }
    return added;
  }

  async function replan(): Promise<number> {
    if (!o.queue) return 0;
    const planning = await o.db
      .selectFrom("mail.mailings")
      .select("id")
      .where("status", "=", "planning")
      .where(sql<boolean>`created_at < now() - make_interval(secs => ${o.requeueAfterSeconds ?? 300})`)
      .orderBy("created_at")
      .limit(REQUEUE_LIMIT)
      .execute();
    if (planning.length === 0) return 0;
    const added = await o.queue.planEach(planning.map((m) => m.id));
    if (added > 0) {
      o.logger.warn(
        { mailings: planning.slice(0, 100).map((m) => m.id) },
        `${added} mailing(s) still planning had no planning job in the queue: enqueued again`,
      );
    }
    return added;
  }

  /**
   * One sweep: how many rows became unknown, how many were enqueued again, and how many mailings
   * got their planning again.
   */
  async function sweep(): Promise<{ unknown: number; requeued: number; replanned: number }> {
    const unknown = await markUnknown();
    const requeued = await requeue();
    const replanned = await replan();
    return { unknown, requeued, replanned };
  }

  return {
    sweep,
    async start(): Promise<void> {
      await beat();
      await sweep();
      timer = setInterval(() => {
        beat()
          .then(sweep)
          .catch((error: unknown) => o.logger.warn({ err: error }, "mail recovery sweep failed"));
      }, o.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await o.redis.del(keyOf(o.prefix, o.instance)).catch(() => 0);
    },
  };
}
