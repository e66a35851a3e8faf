import { checkReadiness, type ReadinessCheck } from "@finanzas/runtime";
import type { AppInstance } from "../app-types.js";
import { type MountDeps, mount } from "./mount.js";

export interface HealthRouteDeps extends MountDeps {
  checks: Record<string, ReadinessCheck>;
  isDraining: () => boolean;
}

/**
 * /health/live: the process runs. /health/ready: PostgreSQL answers and not shutting down; Redis (queue
 * and cache) not answering is reported as `degraded`, still 200.
 */
export async function healthRoutes(app: AppInstance, deps: HealthRouteDeps): Promise<void> {
  mount(app, deps, "healthLive", async () => ({ status: "ok" as const }), { logLevel: "warn" });
  mount(
    app,
    deps,
    "healthReady",
    async ({ reply }) => {
      if (deps.isDraining()) {
        return reply.code(503).send({ ready: false, status: "shutting down", checks: {} }) as never;
      }
      // Only PostgreSQL is required: without Redis, finance reads still answer (from PostgreSQL) and
      // queue operations answer 503, so the load balancer keeps sending requests here.
      const report = await checkReadiness(
        deps.checks,
        undefined,
        Object.keys(deps.checks).filter((name) => name !== "postgres"),
      );
      return reply.code(report.ready ? 200 : 503).send(report) as never;
    },
    { logLevel: "warn" },
  );
}
