import { fileURLToPath } from "node:url";
import { serviceLifecycleSuite } from "@finanzas/testing";

serviceLifecycleSuite({
  service: "report-worker",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "HEALTH_PORT",
  metrics: [
    /^process_resident_memory_bytes{service="report-worker"} \d+/m,
    /^worker_jobs_active{queue="reports",service="report-worker"} 0$/m,
  ],
});
