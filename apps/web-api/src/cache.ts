import { createHash } from "node:crypto";
import { constants, gzipSync } from "node:zlib";
import { type DataChanged, dataChangedChannel } from "@finanzas/contracts";
import type { Logger } from "@finanzas/logger";
import type { Redis } from "ioredis";

/**
 * The finance-read cache in Redis. Entries live under a *generation*: the identity of the last
 * data change this process heard of. When the ETL announces "data changed" (pub/sub), the
 * generation moves on and every later read misses, so nothing older than the last committed sync is
 * served; old entries expire by TTL. The generation is derived from the announcement itself (and at
 * start from the latest finished run in PostgreSQL), so every replica agrees on it and shares entries.
 * A lost subscription (reconnect) moves to a fresh random generation: a miss, never a stale answer.
 *
 * The cache never holds a request up: a Redis read waits at most `getTimeoutMs`, and after a failure
 * Redis is left alone for `pauseMs` (reads go to PostgreSQL, answered by the route's handler); writes
 * are sent without waiting for them. Entries may live in a Redis of their own (CACHE_REDIS_URL); the
 * data-changed subscription stays on the queue Redis, where the ETL announces.
 */
export interface ReadCache {
  readonly generation: string;
  key(route: string, role: string, input: unknown): string;
  /** The body comes back as UTF-8 bytes, ready to send (no per-request encoding). */
  get(key: string): Promise<CachedBody | null>;
  /** The in-process layer only, synchronously (the hot path); null means ask `get`. */
  peek(key: string): CachedBody | null;
  /** Keeps the entry in process and sends it to Redis without waiting (a failed write is logged). */
  set(key: string, entry: { etag: string; body: string }): void;
  /** Moves to a new generation (also what a data-changed message does). */
  invalidate(reason: string): void;
  /** Resolves once the subscription is active (tests wait for it). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export interface CacheOptions {
  /** Where entries are kept (CACHE_REDIS_URL, else the queue Redis). */
  redis: Redis;
  /** Where the ETL's data-changed announcements are heard (the queue Redis); default `redis`. */
  pubsub?: Redis;
  /** Bytes of bodies the in-process layer keeps at most (oldest dropped first); default 32 MiB. */
  memoryMaxBytes?: number;
  /** How long a read waits for Redis before it goes to PostgreSQL (default 500 ms). */
  getTimeoutMs?: number;
  /** After a failed Redis read or write, how long Redis is skipped (default 5 000 ms). */
  pauseMs?: number;
  prefix: string;
  ttlSeconds: number;
  logger: Logger;
  /** The generation to start from (e.g. latest finished ETL run), so replicas agree. */
  initialGeneration: () => Promise<string>;
  onInvalidate?: (reason: string) => void;
}

/** A cached response body; its gzip encoding is made at most once per process, on first demand. */
export interface CachedBody {
  etag: string;
  body: Buffer;
  gzip?: Buffer;
}

/** Bodies smaller than this are sent as they are: compressing them saves nothing worth the header. */
export const GZIP_MIN_BYTES = 1024;

/** The gzip encoding of a body (level 6: ~0.3 ms for a 19 KB page, about a fifth of its size). */
export const gzipOf = (body: Buffer | string): Buffer =>
  gzipSync(body, { level: constants.Z_DEFAULT_COMPRESSION });

/** Canonical JSON (sorted keys) so the same query in any order hits the same entry. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
}

export const etagOf = (body: string): string => `"${createHash("sha1").update(body).digest("base64url")}"`;

export function createReadCache(options: CacheOptions): ReadCache {
  const { redis, prefix, ttlSeconds, logger } = options;
  let generation = `boot-${Math.random().toString(36).slice(2)}`;
  // A small in-process layer in front of Redis: same keys (so the same generation rule), same TTL,
  // capped by entries and by the bytes of its bodies (oldest dropped first).
  const memory = new Map<string, CachedBody & { expires: number; bytes: number }>();
  const MEMORY_ENTRIES = 500;
  const memoryMaxBytes = options.memoryMaxBytes ?? 32 * 1024 * 1024;
  let memoryBytes = 0;
  const getTimeoutMs = options.getTimeoutMs ?? 500;
  const pauseMs = options.pauseMs ?? 5_000;
  // Redis skipped until then, after a read or write failed (reads go straight to PostgreSQL).
  let pausedUntil = 0;
  const pause = (error: unknown, what: string) => {
    const wasPaused = pausedUntil > Date.now();
    pausedUntil = Date.now() + pauseMs;
    if (!wasPaused)
      logger.warn(
        { err: error },
        `read cache: ${what} failed; reads go to PostgreSQL, Redis is tried again in ${pauseMs} ms`,
      );
  };
  // Hashes of recent canonical inputs (a repeated query skips SHA-1).
  const hashes = new Map<string, string>();
  // Resubscribed by us on each reconnect, with a handler (see auth/revocations.ts).
  const subscriber = (options.pubsub ?? redis).duplicate({
    lazyConnect: true,
    maxRetriesPerRequest: null,
    autoResubscribe: false,
  });
  subscriber.on("error", () => {});
  const channel = dataChangedChannel(prefix);
  let subscribedOnce = false;

  const forget = (key: string) => {
    const old = memory.get(key);
    if (!old) return;
    memory.delete(key);
    memoryBytes -= old.bytes;
  };
  const remember = (key: string, entry: { etag: string; body: Buffer }) => {
    const bytes = entry.body.length + entry.etag.length + key.length;
    if (bytes > memoryMaxBytes) return;
    forget(key);
    while (memory.size > 0 && (memory.size >= MEMORY_ENTRIES || memoryBytes + bytes > memoryMaxBytes)) {
      forget(memory.keys().next().value as string);
    }
    memory.set(key, { ...entry, expires: Date.now() + ttlSeconds * 1000, bytes });
    memoryBytes += bytes;
  };
  const setGeneration = (next: string, reason: string) => {
    generation = next;
    memory.clear();
    memoryBytes = 0;
    options.onInvalidate?.(reason);
    logger.debug({ generation, reason }, "read cache generation changed");
  };

  subscriber.on("message", (_channel: string, message: string) => {
    let parsed: Partial<DataChanged> = {};
    try {
      parsed = JSON.parse(message) as DataChanged;
    } catch {
      // an unreadable announcement still means something changed
    }
    const id = createHash("sha1").update(message).digest("hex").slice(0, 16);
    setGeneration(`run-${parsed.runId ?? "x"}-${id}`, "data changed");
  });
  subscriber.on("ready", () => {
    if (!subscribedOnce) return;
    subscriber.subscribe(channel).catch(() => {}); // a connection lost again: the next "ready" retries
    setGeneration(`re-${Math.random().toString(36).slice(2)}`, "resubscribed");
  });

  const ready = (async () => {
    await subscriber.connect();
    await subscriber.subscribe(channel);
    subscribedOnce = true;
    try {
      setGeneration(await options.initialGeneration(), "start");
    } catch (error) {
      logger.warn({ err: error }, "cannot read the latest sync run; the read cache starts empty");
    }
  })();
  ready.catch((error) => logger.error({ err: error }, "read cache subscription failed"));

  return {
    get generation() {
      return generation;
    },
    ready,
    key(route, role, input) {
      const text = canonical(input);
      let hash = hashes.get(text);
      if (hash === undefined) {
        hash = createHash("sha1").update(text).digest("base64url");
        if (hashes.size >= 1000) hashes.clear();
        hashes.set(text, hash);
      }
      return `${prefix}:api-cache:${generation}:${route}:${role}:${hash}`;
    },
    peek(key) {
      if (ttlSeconds === 0) return null;
      const local = memory.get(key);
      return local && local.expires > Date.now() ? local : null;
    },
    async get(key) {
      if (ttlSeconds === 0) return null;
      const local = memory.get(key);
      if (local && local.expires > Date.now()) return local;
      if (local) forget(key);
      if (pausedUntil > Date.now()) return null;
      let timer: NodeJS.Timeout | undefined;
      let raw: Buffer | null;
      try {
        raw = await Promise.race([
          redis.getBuffer(key),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${getTimeoutMs} ms`)), getTimeoutMs);
          }),
        ]);
      } catch (error) {
        pause(error, "a Redis read");
        return null;
      } finally {
        clearTimeout(timer);
      }
      if (!raw) return null;
      const cut = raw.indexOf(10); // "\n"
      const entry = { etag: raw.subarray(0, cut).toString(), body: raw.subarray(cut + 1) };
      remember(key, entry);
      return entry;
    },
    set(key, entry) {
      if (ttlSeconds === 0) return;
      remember(key, { etag: entry.etag, body: Buffer.from(entry.body) });
      if (pausedUntil > Date.now()) return;
      redis.set(key, `${entry.etag}\n${entry.body}`, "EX", ttlSeconds).catch((error: unknown) => {
        pause(error, "a Redis write");
      });
    },
    invalidate(reason) {
      setGeneration(`manual-${Math.random().toString(36).slice(2)}`, reason);
    },
    async close() {
      subscriber.disconnect();
    },
  };
}
