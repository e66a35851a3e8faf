import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { ProblemDetails } from "@finanzas/contracts";
import type { AppInstance } from "../app-types.js";

/**
 * OpenAPI 3.1 at /openapi.json and Swagger UI at /docs, generated from the route schemas (the same
 * TypeBox schemas that validate requests and serialise responses). Both are public: they describe
 * the API, not its data. Routes without a tag (bull-board's pages) are left out.
 */
export async function registerOpenApi(app: AppInstance): Promise<void> {
  // The problem body every 4xx and 5xx has: one schema, referenced (`ProblemDetails#`) by every route.
  app.addSchema(ProblemDetails);
  await app.register(fastifySwagger, {
    // Shared schemas keep their $id as their component name (#/components/schemas/ProblemDetails).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === "string" ? json.$id : `def-${i}`,
    },
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Finanzas API",
        version: "1.0.0",
        description:
          "Finance reads over the synced copy of Odoo, sync control, mailings, auth and users. Errors are RFC 9457 application/problem+json. Log in at POST /api/v1/auth/login and send `Authorization: Bearer <accessToken>`.",
      },
      servers: [{ url: "/" }],
      // Every operation needs a token unless it says otherwise: public ones carry `security: []`,
      // exactly those the route catalog declares public (routes/mount.ts).
      security: [{ bearerAuth: [] }],
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        },
      },
      tags: [
        { name: "auth", description: "Log in, refresh, log out, who am I" },
        { name: "users", description: "User management (admin)" },
        { name: "finance", description: "Finance reads (cached; ETag and If-None-Match)" },
        { name: "sync", description: "Sync control (admin, finance)" },
        {
          name: "mail",
          description:
            "Mailings, their messages, templates and the suppression list (admin, finance); the public one-click unsubscribe link",
        },
        { name: "reports", description: "Excel reports: request, follow, download, cancel" },
        { name: "operations", description: "Health and metrics" },
      ],
    },
    hideUntagged: true,
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: "/docs",
    uiConfig: { persistAuthorization: false, displayOperationId: true },
  });
  app.get("/openapi.json", { schema: { hide: true }, config: { access: "public" } }, async () =>
    app.swagger(),
  );
}
