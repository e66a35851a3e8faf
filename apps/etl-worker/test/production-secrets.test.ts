import { fileURLToPath } from "node:url";
import { productionSecretsSuite } from "@finanzas/testing";
import { ConfigSchema } from "../src/config.js";

productionSecretsSuite({
  service: "etl-worker",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "HEALTH_PORT",
  schema: ConfigSchema,
  // Odoo is not contacted until a job runs.
  env: { ODOO_URL: "http://127.0.0.1:9", ODOO_DB: "odoo", ODOO_USERNAME: "etl" },
});
