import type { Logger } from "@finanzas/logger";
import { isRedisUnavailable, type Queue } from "@finanzas/queue";
import type { FastifyReply, FastifyRequest, onSendHookHandler } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { AppInstance } from "../app-types.js";
import { problemResponses } from "../problem-schemas.js";
import { BoundCounter, BoundHistogram, type BoundObserver } from "./bound-metrics.js";

export interface Metrics {
  registry: Registry;
  httpDuration: BoundHistogram<"method" | "route" | "status_code">;
  cacheHits: BoundCounter<"route">;
  cacheMisses: BoundCounter<"route">;
  cacheInvalidations: Counter<"reason">;
}

const JOB_STATES = ["waiting", "active", "delayed", "prioritized", "failed", "completed"] as const;

/**
 * A registry per app (tests build several apps in one process).
 *
 * The queues' depth is read from Redis on each scrape. When Redis does not answer (down, frozen,
 * or a command timed out on a stalled host), the scrape still answers 200 with everything else
 * (latency, cache, process): that queue's `queue_jobs` series are left out and `queue_up` is 0, so
 * an alert can say "the queue Redis is not answering" instead of Prometheus losing the whole
 * target. Any other error still fails the scrape.
 */
export function createMetrics(queues: Queue[], logger: Logger): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Updated on every request: series bound once, no label hashing per call (bound-metrics.ts).
  const httpDuration = new BoundHistogram(
    "http_request_duration_seconds",
    "HTTP request latency by method, route pattern and status code",
    ["method", "route", "status_code"] as const,
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registry,
  );
  const cacheHits = new BoundCounter(
    "api_cache_hits_total",
    "Finance reads answered from the Redis cache",
    ["route"] as const,
    registry,
  );
  const cacheMisses = new BoundCounter(
    "api_cache_misses_total",
    "Finance reads computed from PostgreSQL",
    ["route"] as const,
    registry,
  );
  const cacheInvalidations = new Counter({
    name: "api_cache_invalidations_total",
    help: "Times the read cache moved to a new generation (data changed, resubscribed)",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  type Depth = { queue: string; counts: Record<string, number> | null };
  // One read per scrape for both gauges: the registry collects every metric at once.
  let reading: Promise<Depth[]> | null = null;
  const readDepths = (): Promise<Depth[]> => {
    reading ??= Promise.all(
      queues.map(async (queue): Promise<Depth> => {
        try {
          return { queue: queue.name, counts: await queue.getJobCounts(...JOB_STATES) };
        } catch (error) {
          if (!isRedisUnavailable(error)) throw error;
          logger.warn({ err: error, queue: queue.name }, "cannot read the queue's depth for /metrics");
          return { queue: queue.name, counts: null };
        }
      }),
    ).finally(() => {
      reading = null;
    });
    return reading;
  };
  new Gauge({
    name: "queue_jobs",
    help: "Jobs per queue and state (etl, reports, mail); absent for a queue whose queue_up is 0",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
    async collect() {
      const depths = await readDepths();
      this.reset();
      for (const { queue, counts } of depths) {
        if (counts) for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: "queue_up",
    help: "1 when the queue's depth was read from Redis for this scrape, 0 when Redis did not answer",
    labelNames: ["queue"] as const,
    registers: [registry],
    async collect() {
      const depths = await readDepths();
      this.reset();
      for (const { queue, counts } of depths) this.set({ queue }, counts ? 1 : 0);
    },
  });
  return { registry, httpDuration, cacheHits, cacheMisses, cacheInvalidations };
}

declare module "fastify" {
  interface FastifyRequest {
    /** performance.now() when the request reached its first hook (metrics.ts). */
    receivedAt: number;
  }
}

/**
 * Latency of every request, labelled by route pattern (never the raw URL: bounded cardinality),
 * from its first onRequest hook to its onSend: the time the app took, up to handing the payload to
 * the socket. Observed in onSend, not onResponse: an onResponse hook makes Fastify attach
 * `finish`/`error` listeners to every response (see request-logger.ts). A synchronous hook per
 * route, with its pattern fixed when the route is declared and one series per method and status
 * bound once; Fastify's 404 handler is "unmatched".
 */
export function registerMetrics(app: AppInstance, metrics: Metrics): void {
  app.decorateRequest("receivedAt", 0);
  app.addHook("onRequest", (request, _reply, done) => {
    request.receivedAt = performance.now();
    done();
  });
  const observer = (route: string) => {
    const bound = new Map<string, BoundObserver>();
    return (request: FastifyRequest, reply: FastifyReply) => {
      const status = reply.statusCode;
      const key = `${request.method} ${status}`;
      let series = bound.get(key);
      if (series === undefined) {
        series = metrics.httpDuration.bind({ method: request.method, route, status_code: String(status) });
        bound.set(key, series);
      }
      series.observe((performance.now() - request.receivedAt) / 1000);
    };
  };
  app.addHook("onRoute", (route) => {
    const observe = observer(route.url);
    const hook: onSendHookHandler = (request, reply, payload, done) => {
      observe(request, reply);
      done(null, payload);
    };
    route.onSend = [...(route.onSend ? [route.onSend].flat() : []), hook] as typeof route.onSend;
  });
  const unmatched = observer("unmatched");
  app.addHook("onSend", (request, reply, payload, done) => {
    if (request.is404) unmatched(request, reply);
    done(null, payload);
  });
}

/** GET /metrics: register after the auth hooks (it is for admins or the METRICS_TOKEN). */
export function registerMetricsRoute(app: AppInstance, metrics: Metrics): void {
  app.get(
    "/metrics",
    {
      config: { access: "metrics" },
      schema: {
        operationId: "metrics",
        summary: "Prometheus metrics (admins, or Authorization: Bearer METRICS_TOKEN)",
        tags: ["operations"],
        security: [{ bearerAuth: [] }],
        response: {
          200: {
            description: "Prometheus text exposition format",
            content: { "text/plain": { schema: { type: "string" } } },
          },
          ...problemResponses({
            401: "Neither an admin's access token nor METRICS_TOKEN",
            403: "Only admin may read the metrics (or send METRICS_TOKEN)",
            429: "Too many requests from this client; Retry-After says when to try again",
          }),
        },
      },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
