import { Writable } from "node:stream";
import { createLogger } from "@finanzas/logger";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { describe, expect, it } from "vitest";
import { LazyRequestLogger, requestLogging } from "../src/request-logger.js";
import { startTestApp } from "./helpers.js";

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  const logger = createLogger({ service: "t", version: "t", level, pretty: false, destination });
  return { lines, logger };
}

describe("lazy per-request logger", () => {
  it("builds no child for a quiet request, and puts the request id (redacted as ever) in a line that is written", async () => {
    const { lines, logger } = capture("warn");
    const app = Fastify({
      childLoggerFactory: requestLogging(logger as FastifyBaseLogger).childLoggerFactory,
      genReqId: () => "req-7",
    });
    let quietMaterialised: boolean | undefined;
    app.get("/quiet", async (request) => {
      request.log.info("invisible at warn");
      request.log.debug({ authorization: "Bearer x" }, "invisible too");
      quietMaterialised = (request.log as unknown as LazyRequestLogger).materialised;
      return { ok: true };
    });
    app.get("/loud", async (request) => {
      request.log.warn({ authorization: "Bearer secret-token" }, "something odd");
      request.log.child({ step: "two" }).error("and an error");
      return { ok: true };
    });
    await app.inject({ method: "GET", url: "/quiet" });
    expect(quietMaterialised).toBe(false);
    await app.inject({ method: "GET", url: "/loud" });
    await app.close();
    const written = lines.filter((l) => l.msg !== undefined && l.reqId !== undefined);
    expect(written.map((l) => l.msg)).toEqual(["something odd", "and an error"]);
    for (const line of written) expect(line.reqId).toBe("req-7");
    expect(written[0]?.authorization).toBe("[redacted]");
    expect(written[1]?.step).toBe("two");
    expect(JSON.stringify(lines)).not.toContain("secret-token");
    expect(JSON.stringify(lines)).not.toContain("invisible");
  });

  it("honours a route's own log level", async () => {
    const { lines, logger } = capture("warn");
    const lazy = new LazyRequestLogger(logger as FastifyBaseLogger, { reqId: "r1" }, { level: "debug" });
    lazy.debug("shown: the route asked for debug");
    lazy.trace("not shown");
    expect(lines.map((l) => [l.msg, l.reqId])).toEqual([["shown: the route asked for debug", "r1"]]);
    expect(lazy.level).toBe("debug");
  });

  it("writes the app's access log at info, with the request id the client got, and nothing per request at warn", async () => {
    for (const level of ["info", "warn"]) {
      const { lines, logger } = capture(level);
      const t = await startTestApp(`log_${level}`, { logger });
      try {
        const res = await t.app.inject({
          method: "GET",
          url: "/api/v1/me",
          headers: { authorization: `Bearer ${t.tokens.viewer}`, "x-request-id": `trace-${level}` },
        });
        expect(res.statusCode).toBe(200);
        expect(res.headers["x-request-id"]).toBe(`trace-${level}`);
        const missing = await t.app.inject({ method: "GET", url: "/api/v1/nowhere" });
        expect(missing.statusCode).toBe(404);
        const mine = lines.filter((l) => l.reqId === `trace-${level}`);
        if (level === "warn") {
          expect(mine).toEqual([]);
          continue;
        }
        expect(mine.map((l) => l.msg)).toEqual(["incoming request", "request completed"]);
        expect(mine[0]?.req).toMatchObject({ method: "GET", url: "/api/v1/me" });
        expect(mine[1]?.res).toEqual({ statusCode: 200 });
        expect(mine[1]?.responseTime).toBeGreaterThan(0);
        expect(JSON.stringify(lines)).not.toContain(t.tokens.viewer);
        const notFound = lines.filter((l) => l.msg === "request completed" && l.reqId !== undefined);
        expect(notFound.some((l) => (l.res as { statusCode: number }).statusCode === 404)).toBe(true);
      } finally {
        await t.close();
      }
    }
  });
});
