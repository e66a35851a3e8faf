import { fileURLToPath } from "node:url";
import { serviceLifecycleSuite } from "@finanzas/testing";

serviceLifecycleSuite({
  service: "etl-worker",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "HEALTH_PORT",
});
