import { createLogger } from "@finanzas/logger";
import { describe, expect, it } from "vitest";
import { checkReadiness, Shutdown, startHealthServer, unreachable } from "./index.js";

const logger = createLogger({ service: "test", version: "0", level: "silent", pretty: false });

describe("Shutdown", () => {
  it("runs hooks in reverse order, time-boxes a stuck one, keeps going and reports failure", async () => {
    const order: string[] = [];
    const shutdown = new Shutdown(logger)
      .add("postgres", () => {
        order.push("postgres");
      })
      .add("stuck", () => new Promise(() => {}), 50)
      .add("worker", async () => {
        await new Promise((r) => setTimeout(r, 20));
        order.push("worker");
      });
    const started = Date.now();
    const code = await shutdown.run("SIGTERM");
    expect(order).toEqual(["worker", "postgres"]);
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("exits 0 when every hook closes, and runs only once however often it is asked", async () => {
    let calls = 0;
    const shutdown = new Shutdown(logger).add("a", () => {
      calls++;
    });
    const [a, b] = await Promise.all([shutdown.run("SIGTERM"), shutdown.run("SIGINT")]);
    expect([a, b, calls]).toEqual([0, 0, 1]);
  });
});

describe("health server", () => {
  it("answers live always, ready only while every check passes, and 503 once draining", async () => {
    let redisUp = true;
    const health = await startHealthServer({
      port: 0,
      host: "127.0.0.1",
      logger,
      checks: {
        postgres: async () => {},
        redis: async () => {
          if (!redisUp) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        },
      },
    });
    const base = `http://127.0.0.1:${health.port}`;
    try {
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        ready: true,
        status: "ready",
        checks: { postgres: "ok", redis: "ok" },
      });
      redisUp = false;
      const down = await fetch(`${base}/health/ready`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { checks: Record<string, string> }).checks.redis).toBe(
        "error: ECONNREFUSED",
      );
      redisUp = true;
      health.drain();
      expect((await fetch(`${base}/health/ready`)).status).toBe(503);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await health.close();
    }
  });

  it("answers 503 'starting' until the service marks its start-up complete", async () => {
    const health = await startHealthServer({
      port: 0,
      host: "127.0.0.1",
      logger,
      checks: {},
      startsNotReady: true,
    });
    try {
      const before = await fetch(`http://127.0.0.1:${health.port}/health/ready`);
      expect(before.status).toBe(503);
      expect(await before.json()).toEqual({ ready: false, status: "starting", checks: {} });
      health.markStarted();
      expect((await fetch(`http://127.0.0.1:${health.port}/health/ready`)).status).toBe(200);
    } finally {
      await health.close();
    }
  });

  it("serves /metrics only when given, and a 500 naming the cause when collecting fails", async () => {
    const plain = await startHealthServer({ port: 0, host: "127.0.0.1", logger, checks: {} });
    let fail = false;
    const scraped = await startHealthServer({
      port: 0,
      host: "127.0.0.1",
      logger,
      checks: {},
      metrics: async () => {
        if (fail) throw new Error("registry broke");
        return { contentType: "text/plain; version=0.0.4; charset=utf-8", body: "up 1\n" };
      },
    });
    try {
      expect((await fetch(`http://127.0.0.1:${plain.port}/metrics`)).status).toBe(404);
      const ok = await fetch(`http://127.0.0.1:${scraped.port}/metrics`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(await ok.text()).toBe("up 1\n");
      fail = true;
      const broken = await fetch(`http://127.0.0.1:${scraped.port}/metrics`);
      expect(broken.status).toBe(500);
      expect(await broken.json()).toEqual({ error: "could not collect metrics: registry broke" });
    } finally {
      await plain.close();
      await scraped.close();
    }
  });

  it("fails a check that does not answer in time", async () => {
    const report = await checkReadiness({ slow: () => new Promise(() => {}) }, 30);
    expect(report).toEqual({ ready: false, status: "not ready", checks: { slow: "error: ETIMEDOUT" } });
  });
});

describe("unreachable", () => {
  it("names the URL without its password, the reason and the fix", () => {
    const error = unreachable(
      "PostgreSQL",
      "postgres://app:hunter2@127.0.0.1:5999/finanzas",
      "DATABASE_URL",
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5999"), { code: "ECONNREFUSED" }),
    );
    expect(error.message).toBe(
      "cannot reach PostgreSQL at postgres://app:***@127.0.0.1:5999/finanzas (ECONNREFUSED): start PostgreSQL or set DATABASE_URL",
    );
  });
});
