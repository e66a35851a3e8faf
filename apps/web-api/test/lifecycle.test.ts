import { fileURLToPath } from "node:url";
import { serviceLifecycleSuite } from "@finanzas/testing";

serviceLifecycleSuite({
  service: "web-api",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "PORT",
});
