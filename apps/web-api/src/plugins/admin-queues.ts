import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Database, Kysely } from "@finanzas/db";
import type { Queue } from "@finanzas/queue";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppInstance } from "../app-types.js";
import { type AdminSessions, cookieValue, QUEUES_COOKIE } from "../auth/admin-sessions.js";
import { authenticate } from "../auth/authenticate.js";
import { type LoginThrottle, sendThrottled, throttledDetail } from "../auth/login-throttle.js";
import { HttpProblem, sendProblem } from "../problem.js";

export interface AdminQueuesOptions {
  queues: Queue[];
  db: Kysely<Database>;
  sessions: AdminSessions;
  /** The login throttle the API's login shares. */
  throttle: LoginThrottle;
  /** ADMIN_QUEUES_WRITE: retries, removals, pauses… allowed; otherwise the dashboard only shows. */
  writable: boolean;
  /** NODE_ENV=production: the session cookie is `Secure` (also whenever the request came over HTTPS). */
  production: boolean;
}

export const QUEUES_BASE = "/admin/queues";
export const QUEUES_LOGIN = "/admin/login";
export const QUEUES_LOGOUT = `${QUEUES_BASE}/logout`;

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

const LOGIN_PAGE = (message = "") => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Finanzas · queues</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}p{color:#b00}</style>
</head><body><h1>Queue dashboard</h1><p>${escapeHtml(message)}</p>
<form method="post" action="${QUEUES_LOGIN}">
<label>Email <input name="email" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in (admins only)</button></form></body></html>`;

const wantsPage = (request: FastifyRequest) => String(request.headers.accept ?? "").includes("text/html");

/**
 * bull-board at /admin/queues, for admins. Scripts may send `Authorization: Bearer <access token>`;
 * a browser logs in at /admin/login (an HTML form, throttled with the API's login: one budget),
 * which starts a dashboard session (auth/admin-sessions.ts) in a cookie of its own: HttpOnly,
 * SameSite=Strict, Path=/admin/queues, `Secure` in production or over HTTPS. Opening the dashboard
 * without one sends a browser to the form; /admin/queues/logout ends the session.
 *
 * Read-only unless ADMIN_QUEUES_WRITE=true: bull-board hides its actions (readOnlyMode), and any
 * request but GET under /admin/queues is refused with 403 before bull-board sees it.
 */
export async function registerAdminQueues(app: AppInstance, options: AdminQueuesOptions): Promise<void> {
  const { sessions, throttle } = options;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUES_BASE);
  createBullBoard({
    queues: options.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !options.writable })),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: options.writable ? "Finanzas queues" : "Finanzas queues (read-only)",
        miscLinks: [{ text: "Log out", url: QUEUES_LOGOUT }],
      },
    },
  });

  await app.register(async (scope) => {
    scope.addHook("onRoute", (route) => {
      // bull-board's page uses inline scripts and styles: no CSP on its pages (see headers.ts).
      route.config = { ...route.config, access: ["admin"] } as typeof route.config;
    });
    if (!options.writable) {
      // After authentication (onRequest): a stranger still gets 401, an admin this 403.
      scope.addHook("preValidation", (request, reply, done) => {
        if (request.method === "GET" || request.method === "HEAD") return done();
        sendProblem(request, reply, {
          status: 403,
          detail:
            "the queue dashboard is read-only: set ADMIN_QUEUES_WRITE=true on the web-api to retry, remove, promote or pause jobs from it",
        });
      });
    }
    await scope.register(serverAdapter.registerPlugin() as never, { prefix: QUEUES_BASE });
  });

  const cookie = (request: FastifyRequest, value: string, maxAge: number) =>
    `${QUEUES_COOKIE}=${value}; Path=${QUEUES_BASE}; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${
      options.production || request.protocol === "https" ? "; Secure" : ""
    }`;

  const page = (reply: FastifyReply, status: number, message: string) =>
    reply.code(status).type("text/html; charset=utf-8").send(LOGIN_PAGE(message));

  await app.register(async (scope) => {
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 4096 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    scope.get(
      QUEUES_LOGIN,
      { schema: { hide: true }, config: { access: "public" } },
      async (_request, reply) => page(reply, 200, ""),
    );
    scope.post(
      QUEUES_LOGIN,
      { schema: { hide: true }, config: { access: "public" } },
      async (request, reply) => {
        const body = (request.body ?? {}) as Record<string, unknown>;
        const email = typeof body.email === "string" ? body.email.slice(0, 254) : "";
        const password = typeof body.password === "string" ? body.password.slice(0, 1024) : "";
        if (!email || !password) return page(reply, 400, "Enter your email and password.");
        const wait = await throttle.attempt(request.ip, email);
        if (wait > 0) {
          if (!wantsPage(request)) return sendThrottled(request, reply, wait);
          const seconds = Math.max(1, Math.ceil(wait / 1000));
          return page(reply.header("retry-after", String(seconds)), 429, `${throttledDetail(seconds)}.`);
        }
        let user: Awaited<ReturnType<typeof authenticate>>;
        try {
          user = await authenticate(options.db, email, password);
        } catch (error) {
          if (error instanceof HttpProblem && error.status === 401) {
            return page(reply, 401, "Wrong email or password.");
          }
          throw error;
        }
        await throttle.succeeded(request.ip, email);
        if (user.role !== "admin") {
          return sendProblem(request, reply, {
            status: 403,
            detail: "the queue dashboard is for admins only",
          });
        }
        if (user.must_change_password) {
          return page(reply, 403, "Change this account's password first: POST /api/v1/auth/password (see /docs).");
        }
        const value = await sessions.create(user);
        reply.header("set-cookie", cookie(request, value, sessions.ttlSeconds));
        return reply.redirect(QUEUES_BASE, 303);
      },
    );
    // Public: ending a session needs nothing but its cookie (sent only under /admin/queues, and
    // never from another site: SameSite=Strict). GET, for bull-board's "Log out" link.
    for (const method of ["GET", "POST"] as const) {
      scope.route({
        method,
        url: QUEUES_LOGOUT,
        schema: { hide: true },
        config: { access: "public" },
        handler: async (request, reply) => {
          const value = cookieValue(request.headers.cookie, QUEUES_COOKIE);
          if (value) await sessions.destroy(value);
          reply.header("set-cookie", cookie(request, "", 0));
          return reply.redirect(QUEUES_LOGIN, 303);
        },
      });
    }
  });
}
