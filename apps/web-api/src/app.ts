import { randomUUID } from "node:crypto";
import fastifyRedis from "@fastify/redis";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { etlQueue, isDeclaredPublic, mailQueue, reportsQueue } from "@finanzas/contracts";
import type { Db } from "@finanzas/db";
import { createIndexKeeper } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import { createProducer, type QueueConnection } from "@finanzas/queue";
import type { ReadinessCheck } from "@finanzas/runtime";
import { createStorage, type Storage, type StorageConfig } from "@finanzas/storage";
import Fastify, { type FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import type { Access, AppInstance } from "./app-types.js";
import { cookieValue, createAdminSessions, QUEUES_COOKIE } from "./auth/admin-sessions.js";
import { createLoginThrottle, type LoginThrottle } from "./auth/login-throttle.js";
import { createTokenRevocations, type TokenRevocations } from "./auth/revocations.js";
import { createTokenSigner, generateSecret } from "./auth/tokens.js";
import { ensureFirstAdmin, flagConfiguredPassword, hasEnabledAdmin } from "./auth/users.js";
import { createReadCache } from "./cache.js";
import { type Config, trustProxyOption } from "./config.js";
import { latestFinishedRun } from "./finance/sync-repo.js";
import { QUEUES_BASE, QUEUES_LOGIN, registerAdminQueues } from "./plugins/admin-queues.js";
import { registerAuth } from "./plugins/auth.js";
import { registerHeaders } from "./plugins/headers.js";
import { createMetrics, registerMetrics, registerMetricsRoute } from "./plugins/metrics.js";
import { registerOpenApi } from "./plugins/openapi.js";
import { registerProblemHandlers, sendProblem } from "./problem.js";
import { createLocalRateLimiter, type LocalRateLimiter } from "./rate-limit.js";
import { requestLogging } from "./request-logger.js";
import { authRoutes } from "./routes/auth.js";
import { financeRoutes } from "./routes/finance.js";
import { healthRoutes } from "./routes/health.js";
import { mailRoutes } from "./routes/mail.js";
import { reportRoutes } from "./routes/reports.js";
import { syncRoutes } from "./routes/sync.js";
import { userRoutes } from "./routes/users.js";
import { validatorCompiler } from "./validation.js";

/** The part of the configuration the app itself uses (main passes the parsed Config). */
export type AppConfig = Pick<
  Config,
  | "NODE_ENV"
  | "JWT_SECRET"
  | "ACCESS_TOKEN_TTL_SECONDS"
  | "REFRESH_TOKEN_TTL_DAYS"
  | "ADMIN_EMAIL"
  | "ADMIN_PASSWORD"
  | "CORS_ORIGINS"
  | "METRICS_TOKEN"
  | "RATE_LIMIT_MAX"
  | "RATE_LIMIT_WINDOW_SECONDS"
  | "LOGIN_RATE_LIMIT_MAX"
  | "LOGIN_RATE_LIMIT_WINDOW_SECONDS"
  | "CACHE_TTL_SECONDS"
  | "CACHE_MEMORY_MAX_BYTES"
  | "REPORT_STATEMENT_TIMEOUT_MS"
  | "TRUST_PROXY"
  | "HTTP_HEADERS_TIMEOUT_MS"
  | "HTTP_REQUEST_TIMEOUT_MS"
  | "HTTP_KEEP_ALIVE_TIMEOUT_MS"
  | "HTTP_CONNECTION_TIMEOUT_MS"
  | "ADMIN_QUEUES_WRITE"
  | "ADMIN_QUEUES_SESSION_SECONDS"
  | "REPORT_MAX_ACTIVE_PER_USER"
  | "MAIL_MAX_ACTIVE_PER_USER"
  | "REPORT_DOWNLOAD_URL_SECONDS"
  | keyof StorageConfig
  | "MAIL_UNSUBSCRIBE_SECRET"
>;

export interface AppDeps {
  logger: Logger;
  database: Db;
  redis: Redis;
  /** The read cache's Redis (CACHE_REDIS_URL); default `redis`. */
  cacheRedis?: Redis;
  checks: Record<string, ReadinessCheck>;
  config: AppConfig;
  /** Redis URL and QUEUE_PREFIX: the queues the app enqueues to and shows, and the cache namespace. */
  connection: QueueConnection;
  /** Clock for token expiry (tests move it). */
  now?: () => number;
  /** How often the global rate limit's counts go to Redis (default 1000 ms; 0: only on rateLimit.sync()). */
  rateLimitSyncMs?: number;
  /**
   * How often revoked access tokens are re-read from PostgreSQL, healing a missed pub/sub message
   * (default 30 000 ms; 0: only at start and after a Redis reconnect).
   */
  revocationResyncMs?: number;
  /** Where report files are read; default the storage the configuration chooses (REPORTS_DIR or S3_*). */
  storage?: Storage;
  /**
   * Where the read indexes are built (`create index concurrently`, minutes on a large table): a
   * pool without DATABASE_STATEMENT_TIMEOUT_MS. Default: the database's own pool.
   */
  indexPool?: Db["pool"];
}

export interface RouteInfo {
  method: string;
  url: string;
  access: Access | undefined;
}

export interface App {
  app: AppInstance;
  /** Every route the app serves (HEAD and OPTIONS aside), with its access rule. */
  routes: RouteInfo[];
  /** From now on /health/ready answers 503 so the load balancer stops sending requests. */
  drain(): void;
  /** The global per-client rate limit (tests sync it by hand). */
  rateLimit: LocalRateLimiter;
  /** Access tokens revoked before they expire, kept in memory (tests wait for its subscription). */
  revocations: TokenRevocations;
  /** Failed sign-ins per address and per account, shared by every login route. */
  loginThrottle: LoginThrottle;
}

/**
 * How often Node looks for connections past HTTP_HEADERS_TIMEOUT_MS or HTTP_REQUEST_TIMEOUT_MS
 * (Node's default, 30 s, would let a slow client hold a socket up to 30 s past its deadline).
 */
const CONNECTIONS_CHECK_MS = 1_000;

/**
 * Why the app must not start with these routes: every route says who may call it (one without a
 * rule is a bug), and a route is public only where the route catalog declares it so (its public
 * routes, and PUBLIC_PAGES for the pages outside the API).
 */
export function accessRuleProblems(routes: readonly RouteInfo[]): string[] {
  const problems: string[] = [];
  const unguarded = routes.filter((r) => r.access === undefined);
  if (unguarded.length) {
    problems.push(
      `routes without an access rule: ${unguarded.map((r) => `${r.method} ${r.url}`).join(", ")}`,
    );
  }
  const undeclared = routes.filter((r) => r.access === "public" && !isDeclaredPublic(r.method, r.url));
  if (undeclared.length) {
    problems.push(
      `routes public without a declaration in the route catalog (apiRoutes or PUBLIC_PAGES of @finanzas/contracts): ${undeclared.map((r) => `${r.method} ${r.url}`).join(", ")}`,
    );
  }
  return problems;
}

/** TRUST_PROXY for Fastify: a hop count as proxy-addr's own function for it (Fastify's types lack numbers). */
function trustProxy(value: string): false | string[] | ((address: string, hop: number) => boolean) {
  const option = trustProxyOption(value);
  return typeof option === "number" ? (_address, hop) => hop < option : option;
}

/** The Fastify application, built from real dependencies; never listens by itself (tests use inject). */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, logger } = deps;
  let draining = false;
  // Fastify gets no logger of its own (see request-logger.ts); each request gets a lazy child of
  // ours, with its request id, built only when a line is written.
  const logging = requestLogging(deps.logger as FastifyBaseLogger);
  const app = Fastify({
    childLoggerFactory: logging.childLoggerFactory,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    bodyLimit: 1_048_576,
    return503OnClosing: true,
    trustProxy: trustProxy(config.TRUST_PROXY),
    // Slow clients: the headers within HTTP_HEADERS_TIMEOUT_MS, the whole request within
    // HTTP_REQUEST_TIMEOUT_MS (Node answers 408 and closes), an idle connection closed after
    // HTTP_CONNECTION_TIMEOUT_MS, and a kept-alive one after HTTP_KEEP_ALIVE_TIMEOUT_MS.
    http: {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_MS, config.HTTP_HEADERS_TIMEOUT_MS),
    },
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: config.HTTP_CONNECTION_TIMEOUT_MS,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());

  // Route options as registered; read after ready(), once every onRoute hook has set its config.
  const registered: { method: string; url: string; options: { config?: { access?: Access } } }[] = [];
  app.addHook("onRoute", (route) => {
    // Swagger UI's own pages and assets are as public as /openapi.json.
    if (route.url.startsWith("/docs") && route.config?.access === undefined) {
      route.config = { ...route.config, access: "public" } as typeof route.config;
    }
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === "HEAD" || method === "OPTIONS") continue;
      registered.push({ method: String(method), url: route.url, options: route });
    }
  });

  let secret = config.JWT_SECRET;
  if (!secret) {
    secret = generateSecret();
    logger.warn(
      "JWT_SECRET is not set: using a random secret for this process (tokens end with it; production refuses to start without one)",
    );
  }
  const db = deps.database.db;
  // Revoked access tokens, loaded from PostgreSQL now, then kept current by pub/sub and a resync.
  const revocations = await createTokenRevocations({
    db,
    redis: deps.redis,
    prefix: deps.connection.prefix,
    logger,
    accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    resyncMs: deps.revocationResyncMs ?? 30_000,
  });
  app.addHook("onClose", () => revocations.close());
  const signer = createTokenSigner(secret, config.ACCESS_TOKEN_TTL_SECONDS, deps.now, revocations);

  if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
    const production = config.NODE_ENV === "production";
    const outcome = await ensureFirstAdmin(db, config.ADMIN_EMAIL, config.ADMIN_PASSWORD, {
      mustChangePassword: production,
    });
    if (outcome === "created") logger.info({ email: config.ADMIN_EMAIL }, "created the first admin");
    const flagged = production
      ? await flagConfiguredPassword(db, config.ADMIN_EMAIL, config.ADMIN_PASSWORD)
      : undefined;
    if (flagged) {
      await revocations.userRevoked(flagged.id, flagged.version);
      logger.warn(
        { email: config.ADMIN_EMAIL },
        "this user's password is still ADMIN_PASSWORD: it must choose a new one at its next login",
      );
    }
  } else if (!(await hasEnabledAdmin(db).catch(() => true))) {
    logger.warn("no admin user exists: set ADMIN_EMAIL and ADMIN_PASSWORD and restart to create one");
  }

  const indexes = createIndexKeeper(deps.indexPool ?? deps.database.pool, logger);
  await indexes.ensure();

  let unsubscribeSecret = config.MAIL_UNSUBSCRIBE_SECRET;
  if (!unsubscribeSecret) {
    unsubscribeSecret = generateSecret();
    logger.warn(
      "MAIL_UNSUBSCRIBE_SECRET is not set: using a random secret for this process, so unsubscribe links the mailer signs are refused (set the mailer's value; production refuses to start without one)",
    );
  }

  const etl = createProducer(etlQueue, deps.connection);
  const mail = createProducer(mailQueue, deps.connection);
  const reports = createProducer(reportsQueue, deps.connection);
  const storage = deps.storage ?? createStorage(config);
  const queues = [etl.queue, reports.queue, mail.queue];
  const metrics = createMetrics(queues, logger);
  const cache = createReadCache({
    redis: deps.cacheRedis ?? deps.redis,
    pubsub: deps.redis,
    prefix: deps.connection.prefix,
    ttlSeconds: config.CACHE_TTL_SECONDS,
    memoryMaxBytes: config.CACHE_MEMORY_MAX_BYTES,
    logger,
    initialGeneration: async () => {
      const run = await latestFinishedRun(db);
      return run ? `run-${run}` : "none";
    },
    onInvalidate: (reason) => {
      metrics.cacheInvalidations.inc({ reason });
      if (reason === "data changed") void indexes.ensure();
    },
  });
  app.addHook("onClose", async () => {
    await cache.close();
    await Promise.allSettled([etl.close(), reports.close(), mail.close()]);
  });

  registerMetrics(app, metrics);
  // Fastify writes its "request completed" lines (status, response time) from the response
  // listeners it sets up only for routes with an onResponse hook: ask for them when they are wanted.
  if (logging.accessLog) app.addHook("onResponse", (_request, _reply, done) => done());
  registerProblemHandlers(app);
  await app.register(fastifyRedis, { client: deps.redis, closeClient: false });
  // Security headers, CORS and x-request-id: one synchronous hook, header sets computed once.
  registerHeaders(app, {
    production: config.NODE_ENV === "production",
    origins: config.CORS_ORIGINS.split(",")
      .map((o) => o.trim())
      .filter(Boolean),
  });
  // The global per-client limit, counted in process and synced to Redis in batches (see rate-limit.ts).
  const limiter = createLocalRateLimiter({
    redis: deps.redis,
    keyPrefix: `${deps.connection.prefix}:rate-limit:global:`,
    max: config.RATE_LIMIT_MAX,
    windowMs: config.RATE_LIMIT_WINDOW_SECONDS * 1000,
    syncMs: deps.rateLimitSyncMs ?? 1000,
    logger,
  });
  const limitHeader = String(config.RATE_LIMIT_MAX);
  app.addHook("onRequest", (request, reply, done) => {
    const wait = limiter.take(request.ip);
    if (wait === 0) return done();
    const seconds = Math.ceil(wait / 1000);
    reply.headers({
      "retry-after": String(seconds),
      "x-ratelimit-limit": limitHeader,
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(seconds),
    });
    sendProblem(request, reply, { status: 429, detail: `too many requests: retry in ${seconds} s` });
  });
  app.addHook("onClose", () => limiter.close());
  // Password guessing: one budget per address and per account for every login route, counted in
  // Redis and in process (enforced when Redis is down; see auth/login-throttle.ts).
  const loginThrottle = createLoginThrottle({
    redis: deps.redis,
    keyPrefix: `${deps.connection.prefix}:login:`,
    max: config.LOGIN_RATE_LIMIT_MAX,
    windowMs: config.LOGIN_RATE_LIMIT_WINDOW_SECONDS * 1000,
    logger,
  });
  // The queue dashboard's sessions: a cookie of their own, no API token (auth/admin-sessions.ts).
  const adminSessions = createAdminSessions({
    redis: deps.redis,
    db,
    keyPrefix: `${deps.connection.prefix}:admin-queues:session:`,
    ttlSeconds: config.ADMIN_QUEUES_SESSION_SECONDS,
  });
  registerAuth(app, {
    signer,
    metricsToken: config.METRICS_TOKEN,
    browserSession: {
      prefix: QUEUES_BASE,
      loginUrl: QUEUES_LOGIN,
      resolve: async (request) => {
        const value = cookieValue(request.headers.cookie, QUEUES_COOKIE);
        return value ? adminSessions.resolve(value) : null;
      },
    },
  });
  await registerOpenApi(app);
  registerMetricsRoute(app, metrics);

  const mountDeps = { cache, metrics };
  await healthRoutes(app, { ...mountDeps, checks: deps.checks, isDraining: () => draining });
  await authRoutes(app, {
    ...mountDeps,
    db,
    signer,
    revocations,
    refreshTtlDays: config.REFRESH_TOKEN_TTL_DAYS,
    throttle: loginThrottle,
  });
  await userRoutes(app, { ...mountDeps, db, revocations });
  await financeRoutes(app, {
    ...mountDeps,
    db,
    reportStatementTimeoutMs: config.REPORT_STATEMENT_TIMEOUT_MS,
  });
  await syncRoutes(app, { ...mountDeps, db, etl, redis: deps.redis });
  await reportRoutes(app, {
    ...mountDeps,
    db,
    reports,
    storage,
    maxActivePerUser: config.REPORT_MAX_ACTIVE_PER_USER,
    downloadUrlSeconds: config.REPORT_DOWNLOAD_URL_SECONDS,
  });
  await mailRoutes(app, {
    ...mountDeps,
    db,
    mail,
    unsubscribeSecret,
    maxActivePerUser: config.MAIL_MAX_ACTIVE_PER_USER,
  });
  await registerAdminQueues(app, {
    queues,
    db,
    sessions: adminSessions,
    throttle: loginThrottle,
    writable: config.ADMIN_QUEUES_WRITE,
    production: config.NODE_ENV === "production",
  });

  await app.ready();
  const routes: RouteInfo[] = registered.map((r) => ({
    method: r.method,
    url: r.url,
    access: r.options.config?.access,
  }));
  const refused = accessRuleProblems(routes);
  if (refused.length) throw new Error(refused.join("; "));
  void cache.ready.catch(() => {});

  return {
    app,
    routes,
    drain: () => {
      draining = true;
    },
    rateLimit: limiter,
    revocations,
    loginThrottle,
  };
}
