// A bare Fastify hello-world: the ceiling the API's figures are compared with, in the same run.
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
await app.listen({ port: Number(process.env.PORT), host: "127.0.0.1" });
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
