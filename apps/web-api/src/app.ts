import { randomUUID } from "node:crypto";
import fastifyRedis from "@fastify/redis";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Db } from "@finanzas/db";
import type { Logger } from "@finanzas/logger";
import type { ReadinessCheck } from "@finanzas/runtime";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from "fastify";
import type { Redis } from "ioredis";
import { registerProblemHandlers } from "./problem.js";
import { healthRoutes } from "./routes/health.js";

export interface AppDeps {
  logger: Logger;
  database: Db;
  redis: Redis;
  checks: Record<string, ReadinessCheck>;
}

export type AppInstance = FastifyInstance<
  RawServerDefault,
  import("node:http").IncomingMessage,
  import("node:http").ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface App {
  app: AppInstance;
  /** From now on /health/ready answers 503 so the load balancer stops sending requests. */
  drain(): void;
}

/** The Fastify application, built from real dependencies; never listens by itself (tests use inject). */
export async function buildApp(deps: AppDeps): Promise<App> {
  let draining = false;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    bodyLimit: 1_048_576,
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  registerProblemHandlers(app);
  await app.register(fastifyRedis, { client: deps.redis, closeClient: false });
  await app.register(healthRoutes, { checks: deps.checks, isDraining: () => draining });

  return {
    app,
    drain: () => {
      draining = true;
    },
  };
}
