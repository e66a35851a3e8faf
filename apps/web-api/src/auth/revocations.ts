import { TokensRevoked, tokensRevokedChannel } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { Logger } from "@finanzas/logger";
import { Value } from "@sinclair/typebox/value";
import type { Redis } from "ioredis";

/**
 * Which access tokens were revoked before they expire, known in memory so the per-request check is
 * a synchronous map lookup (no PostgreSQL or Redis round trip on the hot path).
 *
 * - A user revocation (disabled, new role, new password) raises `app.users.token_version`; a token
 *   carrying a lower version (`ver` claim) is revoked. The version is read in the same row as the
 *   role when a token is signed, so no clock is compared (no same-second or clock-skew cases) and a
 *   login racing a demotion signs the old version with the old role: refused as soon as it is known.
 * - A session revocation (logout, refresh-token reuse) revokes its refresh-token family; a token
 *   carrying that family (`sid` claim) is revoked.
 *
 * Only what was revoked within an access-token lifetime (plus a margin) matters: older tokens have
 * expired anyway. That is what each replica loads at start and re-reads from PostgreSQL every
 * `resyncMs` and after a Redis reconnect (healing a missed message); in between, the replica that
 * revokes applies it at once and publishes it, and the others apply it on receipt.
 */
export interface TokenRevocations {
  /** Synchronous and O(1): whether a token with these claims was revoked. */
  isRevoked(claims: {
    userId: string;
    version?: number | undefined;
    sessionId?: string | undefined;
  }): boolean;
  /** The user's version as far as this replica knows (0 when not revoked recently). */
  versionOf(userId: string): number;
  /** After the user's token_version was raised in PostgreSQL: apply here, tell the other replicas. */
  userRevoked(userId: string, version: number): Promise<void>;
  /** After a session (refresh-token family) was revoked in PostgreSQL: apply here, tell the others. */
  sessionRevoked(sessionId: string): Promise<void>;
  /** Re-reads recent revocations from PostgreSQL (periodically, after a reconnect; tests call it). */
  resync(): Promise<void>;
  /** Resolves once the subscription is active (tests wait for it; requests do not). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface RevocationOptions {
  db: Kysely<Database>;
  redis: Redis;
  prefix: string;
  logger: Logger;
  accessTtlSeconds: number;
  /** Period of the PostgreSQL re-read; 0: only at start, after a reconnect and on resync(). */
  resyncMs: number;
}

/** Past the access-token lifetime, how long a revocation is still kept (clock skew, slow requests). */
const MARGIN_SECONDS = 60;

interface Entry<T> {
  value: T;
  /** Local time (ms) after which every token it revokes has expired. */
  until: number;
}

/**
 * Loads what was revoked within the window from PostgreSQL (throws when it cannot: a replica that
 * does not know what was revoked must not accept tokens), then subscribes without waiting.
 */
export async function createTokenRevocations(options: RevocationOptions): Promise<TokenRevocations> {
  const { db, redis, logger } = options;
  const windowSeconds = options.accessTtlSeconds + MARGIN_SECONDS;
  const channel = tokensRevokedChannel(options.prefix);
  const users = new Map<string, Entry<number>>();
  const sessions = new Map<string, Entry<true>>();

  const applyUser = (userId: string, version: number, until: number) => {
    const known = users.get(userId);
    if (known && known.value > version) return;
    users.set(userId, { value: version, until: Math.max(until, known?.until ?? 0) });
  };
  const applySession = (sessionId: string, until: number) => {
    sessions.set(sessionId, { value: true, until: Math.max(until, sessions.get(sessionId)?.until ?? 0) });
  };
  const forgetExpired = (now: number) => {
    for (const [id, entry] of users) if (entry.until <= now) users.delete(id);
    for (const [id, entry] of sessions) if (entry.until <= now) sessions.delete(id);
  };
  /** Revocations are rare: each one also forgets what has expired, so memory stays bounded. */
  const apply = (event: TokensRevoked) => {
    const now = Date.now();
    forgetExpired(now);
    const until = now + windowSeconds * 1000;
    if (event.kind === "user") applyUser(event.userId, event.version, until);
    else applySession(event.sessionId, until);
  };

  const load = async () => {
    const window = sql<Date>`(now() - make_interval(secs => ${windowSeconds}))`;
    const remaining = (column: string) =>
      sql<number>`(extract(epoch from (${sql.ref(column)} - ${window})) * 1000)::float8`;
    const [userRows, sessionRows] = await Promise.all([
      db
        .selectFrom("app.users")
        .select(["id", "token_version", remaining("tokens_revoked_at").as("remaining_ms")])
        .where("tokens_revoked_at", ">", window)
        .execute(),
      db
        .selectFrom("app.refresh_tokens")
        .select(["family_id", sql<number>`max(${remaining("revoked_at")})`.as("remaining_ms")])
        .where("revoked_at", ">", window)
        .groupBy("family_id")
        .execute(),
    ]);
    const now = Date.now();
    for (const row of userRows) applyUser(row.id, row.token_version, now + Number(row.remaining_ms));
    for (const row of sessionRows) applySession(row.family_id, now + Number(row.remaining_ms));
    // Merged (a message heard while the query ran is never lost), then what has expired goes.
    forgetExpired(now);
  };

  // One read at a time. A resync asked for while one runs (a reconnect, an unreadable message) runs
  // again after it, since the running one may have started before what prompted the request.
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const run = (): Promise<void> => {
    const current = load()
      .catch((error: unknown) => {
        logger.warn(
          { err: error },
          "cannot re-read revoked access tokens from PostgreSQL: keeping what this replica knows, retrying at the next resync",
        );
      })
      .finally(() => {
        if (running === current) running = undefined;
      });
    running = current;
    return current;
  };
  const resync = (): Promise<void> => {
    if (!running) return run();
    queued ??= running.then(() => {
      queued = undefined;
      return run();
    });
    return queued;
  };

  try {
    await load();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "42703" || code === "42P01") {
      throw new Error(
        "cannot read revoked access tokens: app.users has no token_version column; run `pnpm db:migrate`",
        { cause: error },
      );
    }
    throw error;
  }

  // Resubscribed by us on each reconnect (`autoResubscribe` off): ioredis's own resubscription has
  // no handler, so a subscriber closed while it is in flight (a shutdown right after Redis came
  // back) ended in an unhandled rejection, "Connection is closed".
  const subscriber = redis.duplicate({
    lazyConnect: true,
    maxRetriesPerRequest: null,
    autoResubscribe: false,
  });
  subscriber.on("error", () => {});
  let subscribedOnce = false;
  subscriber.on("message", (_channel: string, message: string) => {
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      event = undefined;
    }
    if (Value.Check(TokensRevoked, event)) return apply(event);
    logger.warn(
      { channel, message: message.slice(0, 200) },
      "unreadable token revocation: re-reading PostgreSQL",
    );
    void resync();
  });
  // Messages published while disconnected are lost: after a reconnect, ask PostgreSQL.
  subscriber.on("ready", () => {
    if (!subscribedOnce) return;
    subscriber.subscribe(channel).catch(() => {}); // a connection lost again: the next "ready" retries
    void resync();
  });
  // The command connects (lazily) and waits in the offline queue while Redis is away; once
  // subscribed, ioredis subscribes again by itself after every reconnect.
  const ready = (async () => {
    await subscriber.subscribe(channel);
    subscribedOnce = true;
    // A revocation published between the start load and the subscription would be missed.
    await resync();
  })();
  let closed = false;
  ready.catch((error: unknown) => {
    if (closed) return;
    logger.error(
      { err: error },
      "cannot subscribe to token revocations: other replicas' revocations arrive at the periodic resync only",
    );
  });

  // Periodic: skipped while a read is still running (a slow database does not pile reads up).
  const timer =
    options.resyncMs > 0
      ? setInterval(() => {
          if (!running) void run();
        }, options.resyncMs)
      : undefined;
  timer?.unref();

  const publish = async (event: TokensRevoked) => {
    apply(event);
    try {
      await redis.publish(channel, JSON.stringify(event));
    } catch (error) {
      logger.error(
        { err: error, event },
        `cannot publish a token revocation on Redis: other replicas apply it at their next resync (within ${Math.round(options.resyncMs / 1000)} s)`,
      );
    }
  };

  return {
    isRevoked(claims) {
      const user = users.get(claims.userId);
      if (user !== undefined && (claims.version ?? 0) < user.value) return true;
      return claims.sessionId !== undefined && sessions.has(claims.sessionId);
    },
    versionOf: (userId) => users.get(userId)?.value ?? 0,
    userRevoked: (userId, version) => publish({ kind: "user", userId, version }),
    sessionRevoked: (sessionId) => publish({ kind: "session", sessionId }),
    resync,
    ready,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      subscriber.disconnect();
      await queued;
      await running;
    },
  };
}
