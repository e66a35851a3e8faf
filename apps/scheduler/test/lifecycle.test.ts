import { fileURLToPath } from "node:url";
import { serviceLifecycleSuite } from "@finanzas/testing";

serviceLifecycleSuite({
  service: "scheduler",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "HEALTH_PORT",
  metrics: [/^process_resident_memory_bytes{service="scheduler"} \d+/m],
});
