// A bare Fastify hello-world: the ceiling the API's figures are compared with, in the same run.
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../apps/web-api/package.json", import.meta.url));
const Fastify = require("fastify");
const app = Fastify({ logger: false });
app.get("/", async () => ({ hello: "world" }));
// The same server answering a body as large as the cached invoice page (BODY_BYTES), pre-encoded:
// what moving those bytes costs on this machine, with no framework work besides routing.
const body = Buffer.from(
  JSON.stringify({ items: "x".repeat(Math.max(0, Number(process.env.BODY_BYTES ?? 0) - 12)) }),
);
app.get("/body", (_request, reply) => {
  reply.type("application/json; charset=utf-8").send(body);
});
// ... and with the response headers the cached invoice page carries (16 lines instead of 5): what
// the client's and the server's work per header line costs, with no framework work either.
const apiHeaders = {
  "cache-control": "private, no-cache",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
  etag: '"ErN2ExlzWeJojZaPw8sBgCuBYBg"',
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  vary: "Origin, Authorization",
  "x-cache": "hit",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};
app.get("/body-headers", (_request, reply) => {
  reply.headers(apiHeaders).header("x-request-id", randomUUID());
  reply.type("application/json; charset=utf-8").send(body);
});
await app.listen({ port: Number(process.env.PORT), host: "127.0.0.1" });
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
