import { fileURLToPath } from "node:url";
import { productionSecretsSuite } from "@finanzas/testing";
import { ConfigSchema } from "../src/config.js";

productionSecretsSuite({
  service: "web-api",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "PORT",
  schema: ConfigSchema,
  env: { ADMIN_EMAIL: "admin@finanzas.test" },
});
