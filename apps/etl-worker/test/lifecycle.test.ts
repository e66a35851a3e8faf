import { fileURLToPath } from "node:url";
import { serviceLifecycleSuite } from "@finanzas/testing";

// Odoo is not contacted until a job runs (readiness is PostgreSQL + Redis), so an address where
// nothing listens is enough to boot.
serviceLifecycleSuite({
  service: "etl-worker",
  entry: fileURLToPath(new URL("../dist/main.js", import.meta.url)),
  portVariable: "HEALTH_PORT",
  metrics: [
    /^process_resident_memory_bytes{service="etl-worker"} \d+/m,
    /^worker_jobs_active{queue="etl",service="etl-worker"} 0$/m,
    /^# TYPE etl_rows_total counter$/m,
  ],
  env: { ODOO_URL: "http://127.0.0.1:9", ODOO_DB: "odoo", ODOO_USERNAME: "etl", ODOO_PASSWORD: "secret" },
});
