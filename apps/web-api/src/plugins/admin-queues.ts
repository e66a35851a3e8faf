import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Database, Kysely } from "@finanzas/db";
import type { Queue } from "@finanzas/queue";
import type { AppInstance } from "../app-types.js";
import { authenticate } from "../auth/authenticate.js";
import type { TokenSigner } from "../auth/tokens.js";
import { sendProblem } from "../problem.js";
import { ADMIN_COOKIE } from "./auth.js";

export interface AdminQueuesOptions {
  queues: Queue[];
  db: Kysely<Database>;
  signer: TokenSigner;
  loginRateLimit: { max: number; timeWindow: number };
}

const BASE = "/admin/queues";

const LOGIN_PAGE = (message = "") => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Finanzas · queues</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}p{color:#b00}</style>
</head><body><h1>Queue dashboard</h1><p>${message}</p>
<form method="post" action="/admin/login">
<label>Email <input name="email" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in (admins only)</button></form></body></html>`;

/**
 * bull-board at /admin/queues, admins only. The API accepts `Authorization: Bearer`; a browser logs
 * in at /admin/login (an HTML form, rate-limited like the API login), which sets an HttpOnly,
 * SameSite=Strict cookie holding an access token scoped to /admin/queues.
 */
export async function registerAdminQueues(app: AppInstance, options: AdminQueuesOptions): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BASE);
  createBullBoard({ queues: options.queues.map((q) => new BullMQAdapter(q)), serverAdapter });

  await app.register(async (scope) => {
    scope.addHook("onRoute", (route) => {
      route.config = {
        ...route.config,
        access: ["admin"],
        // bull-board's page uses inline scripts and styles: no CSP on its pages (see headers.ts).
      } as typeof route.config;
    });
    await scope.register(serverAdapter.registerPlugin() as never, { prefix: BASE });
  });

  await app.register(async (scope) => {
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 4096 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    scope.get(
      "/admin/login",
      { schema: { hide: true }, config: { access: "public" } },
      async (_request, reply) => reply.type("text/html; charset=utf-8").send(LOGIN_PAGE()),
    );
    scope.post(
      "/admin/login",
      { schema: { hide: true }, config: { access: "public", rateLimit: options.loginRateLimit } },
      async (request, reply) => {
        const body = (request.body ?? {}) as Record<string, unknown>;
        const email = typeof body.email === "string" ? body.email.slice(0, 254) : "";
        const password = typeof body.password === "string" ? body.password.slice(0, 1024) : "";
        if (!email || !password) {
          return reply
            .code(400)
            .type("text/html; charset=utf-8")
            .send(LOGIN_PAGE("Enter your email and password."));
        }
        let user: Awaited<ReturnType<typeof authenticate>>;
        try {
          user = await authenticate(options.db, email, password);
        } catch {
          return reply
            .code(401)
            .type("text/html; charset=utf-8")
            .send(LOGIN_PAGE("Wrong email or password."));
        }
        if (user.role !== "admin") {
          return sendProblem(request, reply, {
            status: 403,
            detail: "the queue dashboard is for admins only",
          });
        }
        if (user.must_change_password) {
          return reply
            .code(403)
            .type("text/html; charset=utf-8")
            .send(
              LOGIN_PAGE("Change this account's password first: POST /api/v1/auth/password (see /docs)."),
            );
        }
        // The version read with the role: a replica that missed a revocation still refuses this cookie.
        const token = await options.signer.sign({
          userId: user.id,
          role: user.role,
          email: user.email,
          version: user.token_version,
        });
        reply.header(
          "set-cookie",
          `${ADMIN_COOKIE}=${token}; Path=${BASE}; HttpOnly; SameSite=Strict; Max-Age=${options.signer.accessTtlSeconds}${
            request.protocol === "https" ? "; Secure" : ""
          }`,
        );
        return reply.redirect(BASE, 303);
      },
    );
  });
}
