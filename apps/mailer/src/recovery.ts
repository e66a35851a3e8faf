import type { Db } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import { recoverStale, sendingInstances } from "@finanzas/mail";
import type { Redis } from "ioredis";

/*
 * A message is `sending` only between its claim and the record of its outcome. When the mailer
 * that claimed it dies in between, the message may or may not have reached the server: it becomes
 * `unknown`, for a person to decide. Each mailer process keeps a heartbeat key in Redis; at start
 * and every `intervalMs`, `sending` rows whose mailer has no heartbeat any more (or that have been
 * sending for longer than `sendingTimeoutSeconds`) are marked unknown.
 */

export interface RecoveryOptions {
  db: Db;
  redis: Redis;
  prefix: string;
  instance: string;
  intervalMs: number;
  sendingTimeoutSeconds: number;
  logger: Logger;
}

const keyOf = (prefix: string, instance: string) => `${prefix}:mailer:instance:${instance}`;

export function createRecovery(o: RecoveryOptions) {
  let timer: NodeJS.Timeout | undefined;
  const beat = () => o.redis.set(keyOf(o.prefix, o.instance), String(Date.now()), "PX", o.intervalMs * 3);

  async function sweep(): Promise<number> {
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
