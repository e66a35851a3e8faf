import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { HealthLive, HealthReady } from "@finanzas/contracts";
import { checkReadiness, type ReadinessCheck } from "@finanzas/runtime";

export interface HealthOptions {
  checks: Record<string, ReadinessCheck>;
  isDraining: () => boolean;
}

/** /health/live: the process runs. /health/ready: PostgreSQL and Redis answer, and not shutting down. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, options) => {
  app.get(
    "/health/live",
    {
      schema: { summary: "The process runs", tags: ["operations"], response: { 200: HealthLive } },
      config: { access: "public", rateLimit: false },
      logLevel: "warn",
    },
    async () => ({ status: "ok" as const }),
  );
  app.get(
    "/health/ready",
    {
      schema: {
        summary: "PostgreSQL and Redis answer and the process is not shutting down",
        tags: ["operations"],
        response: { 200: HealthReady, 503: HealthReady },
      },
      config: { access: "public", rateLimit: false },
      logLevel: "warn",
    },
    async (_request, reply) => {
      if (options.isDraining())
        return reply.code(503).send({ ready: false, status: "shutting down", checks: {} });
      const report = await checkReadiness(options.checks);
      return reply.code(report.ready ? 200 : 503).send(report);
    },
  );
};
