import type { Redis } from "ioredis";

/*
 * Messages per second across every mailer replica: a token bucket in Redis, one token per message,
 * taken right before the message is claimed and handed to the SMTP server. BullMQ's own limiter
 * counts jobs, and a send-batch job carries many messages, so it cannot bound messages; this
 * bucket does, whatever the batch size. It refills continuously at `ratePerSecond` (Redis's clock,
 * the same for every replica) and holds at most a tenth of a second's worth (at least one token),
 * so any one-second window sees at most 1.1 × the rate plus one.
 *
 * A pause (the server's 421 or 454) stops every replica's sends at once: while it lasts the bucket
 * grants nothing and says how long is left.
 *
 * In one process, the callers waiting for a token are served together: one script call asks for
 * as many tokens as there are waiters, and `prefetch` more; when the bucket is short, the call says
 * how long until the next token and the waiters sleep exactly that long (no polling). Tokens
 * granted beyond the waiters are kept for the next callers for at most a tenth of a second, then
 * dropped: when the rate is not what limits, most messages take a token without a round trip to
 * Redis, and any one-second window still sees at most about 1.2 × the rate.
 */

// KEYS: bucket, pause. ARGV: rate per second, capacity, tokens wanted. Returns {granted, waitMs}.
const TAKE = `
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {0, paused} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
if now > at then tokens = math.min(capacity, tokens + (now - at) * rate / 1000) end
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
local wait = 0
if granted < wanted then wait = math.max(1, math.ceil((1 - tokens) * 1000 / rate)) end
return {granted, wait}
`;

// KEYS: pause. ARGV: ms. Extends the pause to at least ms from now.
const PAUSE = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
`;

/** Tokens asked for in one call at most (a process has no more messages in flight than this). */
const MAX_WANTED = 1_000;

export interface RateLimiter {
  /** Resolves when this caller may send one message; rejects when `signal` aborts first. */
  take(signal?: AbortSignal): Promise<void>;
  /** Every replica sends nothing for `ms` (from now, or longer if a pause is already longer). */
  pause(ms: number): Promise<void>;
}

export interface RateLimiterOptions {
  redis: Redis;
  /** Key prefix (QUEUE_PREFIX): environments and test suites never share a bucket. */
  prefix: string;
  ratePerSecond: number;
  /** Tokens asked for beyond the waiters (about the messages a process has in flight); default 0. */
  prefetch?: number | undefined;
}

/** How long tokens granted beyond the waiters may wait for a caller. */
const HOLD_MS = 100;

type RedisWithScripts = Redis & {
  mailRateTake(
    bucket: string,
    pause: string,
    rate: number,
    capacity: number,
    wanted: number,
  ): Promise<[number, number]>;
  mailRatePause(pause: string, ms: number): Promise<number>;
};

export function createRateLimiter(o: RateLimiterOptions): RateLimiter {
  const redis = o.redis as RedisWithScripts;
  if (typeof (o.redis as unknown as Record<string, unknown>).mailRateTake !== "function") {
    redis.defineCommand("mailRateTake", { numberOfKeys: 2, lua: TAKE });
    redis.defineCommand("mailRatePause", { numberOfKeys: 1, lua: PAUSE });
  }
  const bucketKey = `${o.prefix}:mail-rate:bucket`;
  const pauseKey = `${o.prefix}:mail-rate:pause`;
  const capacity = Math.max(1, Math.ceil(o.ratePerSecond / 10));
  const waiting: { resolve(): void; reject(error: unknown): void; signal?: AbortSignal | undefined }[] = [];
  const prefetch = Math.max(0, Math.floor(o.prefetch ?? 0));
  let stock = 0;
  let stockUntil = 0;
  let pumping = false;
  let sleeper: { timer: NodeJS.Timeout; wake(): void } | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        sleeper = undefined;
        resolve();
      }, ms);
      sleeper = {
        timer,
        wake() {
          clearTimeout(timer);
          sleeper = undefined;
          resolve();
        },
      };
    });

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (waiting.length > 0) {
        let granted: number;
        let waitMs: number;
        try {
          [granted, waitMs] = await redis.mailRateTake(
            bucketKey,
            pauseKey,
            o.ratePerSecond,
            capacity,
            Math.min(waiting.length + prefetch, MAX_WANTED),
          );
        } catch (error) {
          for (const w of waiting.splice(0)) w.reject(error);
          return;
        }
        const served = waiting.splice(0, granted);
        for (const w of served) w.resolve();
        if (granted > served.length) {
          stock = granted - served.length;
          stockUntil = Date.now() + HOLD_MS;
        }
        if (waiting.length > 0 && waitMs > 0) await sleep(waitMs);
      }
    } finally {
      pumping = false;
    }
  }

  return {
    take(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (stock > 0 && Date.now() < stockUntil) {
        stock--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const entry = {
          signal,
          resolve: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
          reject: (error: unknown) => {
            signal?.removeEventListener("abort", onAbort);
            reject(error);
          },
        };
        const onAbort = () => {
          const at = waiting.indexOf(entry);
          if (at >= 0) waiting.splice(at, 1);
          if (waiting.length === 0) sleeper?.wake();
          reject(signal?.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        waiting.push(entry);
        void pump();
      });
    },
    async pause(ms) {
      stock = 0;
      await redis.mailRatePause(pauseKey, Math.max(1, Math.round(ms)));
    },
  };
}
