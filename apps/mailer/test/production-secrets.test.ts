import { fileURLToPath } from "node:url";
import { productionSecretsSuite } from "@finanzas/testing";
import { ConfigSchema } from "../src/config.js";

productionSecretsSuite({
  service: "mailer",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "HEALTH_PORT",
  schema: ConfigSchema,
  env: { MAIL_FROM: "Finanzas <billing@finanzas.test>" },
});
