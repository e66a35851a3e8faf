import { fileURLToPath } from "node:url";
import { productionSecretsSuite } from "@finanzas/testing";
import { ConfigSchema } from "../src/config.js";

productionSecretsSuite({
  service: "report-worker",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "HEALTH_PORT",
  schema: ConfigSchema,
});
