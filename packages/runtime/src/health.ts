import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@finanzas/logger";
import { errorReason, withTimeout } from "./errors.js";

export type ReadinessCheck = () => Promise<unknown>;

export interface HealthServerOptions {
  port: number;
  host?: string;
  /** Named checks that must all pass for /health/ready, e.g. { postgres, redis }. */
  checks: Record<string, ReadinessCheck>;
  logger: Logger;
  checkTimeoutMs?: number;
  /** Answer 503 "starting" until markStarted() (the service's own start-up, e.g. creating tables). Default false. */
  startsNotReady?: boolean;
  /** Serves GET /metrics (Prometheus' text format) when given. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

export interface ReadinessReport {
  ready: boolean;
  /** `degraded`: ready, with a check that the service can answer without failing (`optional`). */
  status: "ready" | "degraded" | "not ready" | "starting" | "shutting down";
  checks: Record<string, string>;
}

/**
 * Runs every check in parallel, each time-boxed; a check passes by resolving. A failing check named
 * in `optional` leaves the service ready, its status `degraded` (the web-api answers finance reads
 * from PostgreSQL while Redis is down).
 */
export async function checkReadiness(
  checks: Record<string, ReadinessCheck>,
  timeoutMs = 2_000,
  optional: readonly string[] = [],
): Promise<ReadinessReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), timeoutMs, `no answer within ${timeoutMs} ms`);
        return [name, "ok"] as const;
      } catch (error) {
        return [name, `error: ${errorReason(error)}`] as const;
      }
    }),
  );
  const ready = entries.every(([name, result]) => result === "ok" || optional.includes(name));
  const degraded = ready && entries.some(([, result]) => result !== "ok");
  return {
    ready,
    status: degraded ? "degraded" : ready ? "ready" : "not ready",
    checks: Object.fromEntries(entries),
  };
}

export interface HealthServer {
  port: number;
  /** Start-up is complete: /health/ready now reflects the checks. */
  markStarted(): void;
  /** From now on /health/ready answers 503 so load balancers stop routing work here. */
  drain(): void;
  close(): Promise<void>;
}

/** The small HTTP server every worker runs: GET /health/live, GET /health/ready and, if given, GET /metrics. */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  let draining = false;
  let started = options.startsNotReady !== true;
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, { error: "method not allowed" });
    if (path === "/health/live") return send(200, { status: "ok" });
    if (path === "/health/ready") {
      if (draining) return send(503, { ready: false, status: "shutting down", checks: {} });
      if (!started) return send(503, { ready: false, status: "starting", checks: {} });
      void checkReadiness(options.checks, options.checkTimeoutMs).then((report) =>
        send(report.ready ? 200 : 503, report),
      );
      return;
    }
    if (path === "/metrics" && options.metrics) {
      options.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
          res.end(body);
        },
        (error: unknown) => {
          options.logger.error({ err: error }, "could not collect metrics");
          send(500, { error: `could not collect metrics: ${errorReason(error)}` });
        },
      );
      return;
    }
    send(404, {
      error: "not found",
      routes: ["/health/live", "/health/ready", ...(options.metrics ? ["/metrics"] : [])],
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port }, `health endpoints on :${port}/health/live and /health/ready`);
  return {
    port,
    markStarted: () => {
      started = true;
    },
    drain: () => {
      draining = true;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
