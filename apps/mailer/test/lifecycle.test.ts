import { fileURLToPath } from "node:url";
import { serviceLifecycleSuite } from "@finanzas/testing";

serviceLifecycleSuite({
  service: "mailer",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "HEALTH_PORT",
  metrics: [
    /^process_resident_memory_bytes{service="mailer"} \d+/m,
    /^worker_jobs_active{queue="mail",service="mailer"} 0$/m,
  ],
});
