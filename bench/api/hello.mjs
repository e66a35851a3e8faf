// A bare Fastify hello-world: the ceiling the API's figures are compared with, in the same run.
import { createRequire } from "node:module";

const require = createRequire(new URL("../../apps/web-api/package.json", import.meta.url));
const Fastify = require("fastify");
const app = Fastify({ logger: false });
app.get("/", async () => ({ hello: "world" }));
await app.listen({ port: Number(process.env.PORT), host: "127.0.0.1" });
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
