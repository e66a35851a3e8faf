import type { ApiRouteName } from "@finanzas/contracts";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type CachedBody, etagOf, GZIP_MIN_BYTES, gzipOf, type ReadCache } from "./cache.js";
import type { Metrics } from "./plugins/metrics.js";

/**
 * How a cached read is answered over HTTP: the cache key of a request (memoised per role and URL),
 * the in-process layer, then Redis, then the route's handler; the ETag and 304 on If-None-Match;
 * gzip for clients that accept it. cache.ts keeps the entries; routes/mount.ts picks this handler
 * for the catalog's cached routes.
 */

export interface CachedReplyDeps {
  cache: ReadCache;
  metrics: Metrics;
}

/**
 * The handler of a cached read: the in-process layer answers synchronously, then Redis, then the
 * route's own handler (whose answer is stored). Only these routes have cache-hit and miss series.
 */
export function cachedHandler(
  deps: CachedReplyDeps,
  name: ApiRouteName,
  call: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  status: number,
) {
  const hitsOf = deps.metrics.cacheHits.bind({ route: name });
  const keys = new Map<string, { generation: string; key: string }>();
  const missesOf = deps.metrics.cacheMisses.bind({ route: name });
  /**
   * The reads of PostgreSQL in progress, by key. After a sync every entry is gone at once, and the
   * clients that ask for the dashboard then would each run its queries side by side: an identical
   * request that misses while a read is in progress waits for that read instead (`x-cache: shared`,
   * counted as a hit: it cost PostgreSQL nothing). A failed read fails the requests that waited for
   * it the same way.
   */
  const reading = new Map<string, Promise<CachedBody>>();
  const shared = async (request: FastifyRequest, reply: FastifyReply, read: Promise<CachedBody>) => {
    hitsOf.inc();
    reply.header("x-cache", "shared");
    return sendJson(request, reply, await read);
  };
  const fromRedisOrDb = async (request: FastifyRequest, reply: FastifyReply, key: string) => {
    // Redis is asked unless a read is in progress already; one may also begin while it answers.
    const hit = reading.has(key) ? null : await deps.cache.get(key).catch(() => null);
    if (hit) {
      hitsOf.inc();
      reply.header("x-cache", "hit");
      return sendJson(request, reply, hit);
    }
    const inProgress = reading.get(key);
    if (inProgress) return shared(request, reply, inProgress);
    missesOf.inc();
    reply.header("x-cache", "miss");
    const read = (async (): Promise<CachedBody> => {
      const data = await call(request, reply);
      reply.code(status);
      const body = reply.serialize(data) as string;
      const etag = etagOf(body);
      deps.cache.set(key, { etag, body }); // never waited for: the answer does not depend on it
      return { etag, body: Buffer.from(body) };
    })();
    reading.set(key, read);
    try {
      return sendJson(request, reply, await read);
    } finally {
      reading.delete(key);
    }
  };

  return (request: FastifyRequest, reply: FastifyReply) => {
    const role = request.user?.role ?? "public";
    // The same URL and role always make the same key (in a generation): skip canonicalising.
    const memoKey = `${role} ${request.url}`;
    let memo = keys.get(memoKey);
    if (memo === undefined || memo.generation !== deps.cache.generation) {
      memo = {
        generation: deps.cache.generation,
        key: deps.cache.key(name, role, { p: request.params, q: request.query }),
      };
      if (keys.size >= 1000) keys.clear();
      if (memoKey.length <= 512) keys.set(memoKey, memo); // bounded memory: ≤ 1000 short URLs
    }
    const key = memo.key;
    // The hot path: the in-process layer answers synchronously, no promise involved.
    const local = deps.cache.peek(key);
    if (local) {
      hitsOf.inc();
      reply.header("x-cache", "hit");
      sendJson(request, reply, local);
      return;
    }
    return fromRedisOrDb(request, reply, key);
  };
}

/**
 * Whether an Accept-Encoding value accepts gzip (RFC 9110 §12.5.3: `gzip` or `*` without q=0).
 * Memoised per header value: clients send few distinct ones.
 */
const acceptsGzipMemo = new Map<string, boolean>();
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let yes = acceptsGzipMemo.get(header);
  if (yes !== undefined) return yes;
  let gzip: boolean | undefined;
  let star: boolean | undefined;
  for (const part of header.toLowerCase().split(",")) {
    const [coding = "", ...params] = part.split(";").map((p) => p.trim());
    const q = params.find((p) => p.startsWith("q="));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (coding === "gzip" || coding === "x-gzip") gzip = ok;
    else if (coding === "*") star = ok;
  }
  yes = gzip ?? star ?? false;
  if (acceptsGzipMemo.size >= 100) acceptsGzipMemo.clear();
  acceptsGzipMemo.set(header, yes);
  return yes;
}

/** The gzip representation's ETag: a different representation gets a different strong tag. */
const gzipEtag = (etag: string) => `${etag.slice(0, -1)}-gzip"`;

/**
 * Sends a cached read: its ETag (304 when If-None-Match names either representation), gzip when
 * the client accepts it and the body is worth compressing (encoded once per entry and process).
 */
function sendJson(request: FastifyRequest, reply: FastifyReply, entry: CachedBody): FastifyReply {
  const gzip = entry.body.length >= GZIP_MIN_BYTES && acceptsGzip(request.headers["accept-encoding"]);
  const etag = gzip ? gzipEtag(entry.etag) : entry.etag;
  reply.headers({
    etag,
    "cache-control": "private, no-cache",
    vary: "Origin, Authorization, Accept-Encoding",
  });
  const inm = request.headers["if-none-match"];
  if (typeof inm === "string" && matches(inm, entry.etag)) return reply.code(304).send();
  reply.code(200).type("application/json; charset=utf-8");
  if (!gzip) return reply.send(entry.body);
  entry.gzip ??= gzipOf(entry.body);
  return reply.header("content-encoding", "gzip").send(entry.gzip);
}

/** If-None-Match (weak comparison, RFC 9110 §13.1.2) against either representation of the entry. */
function matches(header: string, etag: string): boolean {
  const gz = gzipEtag(etag);
  return header.split(",").some((raw) => {
    const t = raw.trim();
    const tag = t.startsWith("W/") ? t.slice(2) : t;
    return tag === etag || tag === gz || t === "*";
  });
}
