import { Writable } from "node:stream";
import { createLogger } from "@finanzas/logger";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { describe, expect, it } from "vitest";
import { LazyRequestLogger, lazyChildLoggerFactory } from "../src/request-logger.js";

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
      loggerInstance: logger as FastifyBaseLogger,
      childLoggerFactory: lazyChildLoggerFactory,
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
});
