import type { Logger } from "@finanzas/logger";
import type { Redis } from "ioredis";

/**
 * The global per-client rate limit, counted in process and shared through Redis in batches.
 *
 * Windows are fixed and aligned to the clock (window n covers [n·w, (n+1)·w)), so every replica
 * agrees on them. Each replica counts the requests of each client address locally and decides
 * locally: a request is refused when (the cluster-wide count last read from Redis) + (this
 * replica's requests not yet sent) reaches the limit. Every `syncMs` (1 s by default) one Redis
 * pipeline adds each client's unsent count to its window key (INCRBY, expiring with the window) and
 * reads back the cluster-wide total. No request waits for Redis.
 *
 * Tolerance: on one replica the limit is exact. Across replicas a client can exceed it by at most
 * what the *other* replicas admitted for it during one sync interval (each learns the total at its
 * next sync). If Redis is unreachable each replica goes on limiting with its own counts (the
 * previous limiter let every request through when Redis failed). Memory is bounded: past
 * `maxClients` addresses in one window, an early sync forgets those with nothing unsent; a
 * forgotten client relearns its total at its next sync (the same one-interval tolerance).
 */
export interface LocalRateLimiter {
  /** Counts a request from `client`; returns 0 when admitted, else the milliseconds to the window's end. */
  take(client: string): number;
  readonly max: number;
  /** Client addresses remembered in the current window (tests). */
  readonly clients: number;
  /** Sends the unsent counts to Redis and reads back the totals (also run by the timer). */
  sync(): Promise<void>;
  /** Stops the timer after a last sync. */
  close(): Promise<void>;
}

export interface LocalRateLimiterOptions {
  redis: Redis;
  /** Key prefix, e.g. `${QUEUE_PREFIX}:rate-limit:global:`. */
  keyPrefix: string;
  max: number;
  windowMs: number;
  /** How often the counts go to Redis; 0 disables the timer (tests call sync()). */
  syncMs?: number;
  logger?: Logger;
  now?: () => number;
  /**
   * Clients remembered per window before an early sync that forgets those with nothing unsent
   * (their totals are in Redis and come back at their next request's sync): bounded memory when
   * many addresses (IPv6 ranges, X-Forwarded-For behind TRUST_PROXY) show up in one window.
   */
  maxClients?: number;
}

interface Count {
  /** Cluster-wide count for this window as last read from Redis (includes what this replica sent). */
  total: number;
  /** This replica's requests not yet added in Redis. */
  unsent: number;
}

export function createLocalRateLimiter(options: LocalRateLimiterOptions): LocalRateLimiter {
  const { redis, keyPrefix, max, windowMs, logger } = options;
  const now = options.now ?? Date.now;
  const syncMs = options.syncMs ?? 1000;
  const maxClients = options.maxClients ?? 50_000;
  let window = Math.floor(now() / windowMs);
  let counts = new Map<string, Count>();
  let syncing: Promise<void> | undefined;
  let warned = false;
  let pruning = false;
  const forgetSent = () => {
    for (const [client, count] of counts) if (count.unsent === 0) counts.delete(client);
  };

  const take = (client: string): number => {
    const t = now();
    const w = Math.floor(t / windowMs);
    if (w !== window) {
      // A new window: counts start again (unsent counts of the old one are dropped with it).
      window = w;
      counts = new Map();
    }
    let count = counts.get(client);
    if (count === undefined) {
      count = { total: 0, unsent: 0 };
      counts.set(client, count);
      if (counts.size > maxClients && !pruning) {
        pruning = true;
        void sync()
          .then(forgetSent)
          .finally(() => {
            pruning = false;
          });
      }
    }
    if (count.total + count.unsent >= max) return (w + 1) * windowMs - t;
    count.unsent++;
    return 0;
  };

  const flush = async (): Promise<void> => {
    const w = window;
    const batch = counts;
    const sent: [string, Count, number][] = [];
    for (const [client, count] of batch) {
      if (count.unsent > 0) {
        sent.push([client, count, count.unsent]);
        count.unsent = 0;
      }
    }
    if (sent.length === 0) return;
    const expireAt = (w + 1) * windowMs + 1000;
    const pipeline = redis.pipeline();
    for (const [client, , n] of sent) {
      const key = `${keyPrefix}${w}:${client}`;
      pipeline.incrby(key, n);
      pipeline.pexpireat(key, expireAt);
    }
    try {
      const results = (await pipeline.exec()) ?? [];
      sent.forEach(([, count, n], i) => {
        const [error, total] = results[i * 2] ?? [new Error("no reply")];
        if (error) count.unsent += n;
        else count.total = Math.max(count.total, Number(total));
      });
      warned = false;
    } catch (error) {
      for (const [, count, n] of sent) count.unsent += n;
      if (!warned) {
        warned = true;
        logger?.warn({ err: error }, "cannot sync the rate limit counts to Redis; limiting per replica");
      }
    }
  };

  const sync = (): Promise<void> => {
    syncing ??= flush().finally(() => {
      syncing = undefined;
    });
    return syncing;
  };

  const timer = syncMs > 0 ? setInterval(() => void sync(), syncMs) : undefined;
  timer?.unref();

  return {
    take,
    max,
    get clients() {
      return counts.size;
    },
    sync,
    async close() {
      if (timer) clearInterval(timer);
      await sync().catch(() => {});
    },
  };
}
