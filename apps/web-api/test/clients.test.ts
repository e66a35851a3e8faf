import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { freePort, startProcess, TEST_REDIS_URL } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConfig } from "../src/config.js";
import { PASSWORD, startTestApp, type TestApp, testConfig } from "./helpers.js";

/*
 * Clients and proxies: which address is the client's (TRUST_PROXY), and slow clients cut off by the
 * header, request and idle timeouts.
 */

describe("TRUST_PROXY", () => {
  it("takes false, a hop count or proxy addresses/CIDRs, and refuses `true` naming the variable", () => {
    for (const value of [
      "false",
      "0",
      "1",
      "2",
      "10.0.0.0/8",
      "10.0.0.1, 192.168.0.0/16",
      "loopback,fd00::/8",
    ]) {
      expect(() => checkConfig(testConfig({ TRUST_PROXY: value })), value).not.toThrow();
    }
    expect(() => checkConfig(testConfig({ TRUST_PROXY: "true" }))).toThrow(
      /TRUST_PROXY=true would trust every client's X-Forwarded-For .* set the number of proxies in front \(e\.g\. TRUST_PROXY=1\)/,
    );
    for (const value of ["*", "proxy.example.com", "10.0.0.0/33", "10.0.0.1/8/1", "300.1.1.1", "11"]) {
      expect(() => checkConfig(testConfig({ TRUST_PROXY: value })), value).toThrow(/TRUST_PROXY/);
    }
  });

  it("stops the service at start with TRUST_PROXY=true (exit 1, the variable named)", async () => {
    const entry = fileURLToPath(new URL("../dist/main.js", import.meta.url));
    const proc = startProcess(entry, {
      NODE_ENV: "development",
      PORT: String(await freePort()),
      REDIS_URL: TEST_REDIS_URL,
      TRUST_PROXY: "true",
    });
    const { code } = await proc.exited;
    expect(code).toBe(1);
    expect(proc.output()).toContain("TRUST_PROXY=true would trust every client's X-Forwarded-For");
  });

  describe("a client's budget is its own, whatever X-Forwarded-For it sends", () => {
    const budgets = async (
      env: Record<string, string>,
      label: string,
      check: (t: TestApp) => Promise<void>,
    ) => {
      const t = await startTestApp(label, { env: { ...env, LOGIN_RATE_LIMIT_MAX: "2" } });
      try {
        await check(t);
      } finally {
        await t.close();
      }
    };
    const guess = (t: TestApp, remoteAddress: string, forwardedFor?: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/v1/auth/login",
        payload: { email: `nobody-${Math.random()}@example.com`, password: "guess" },
        remoteAddress,
        ...(forwardedFor ? { headers: { "x-forwarded-for": forwardedFor } } : {}),
      });
    const right = (t: TestApp, remoteAddress: string, forwardedFor?: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/v1/auth/login",
        payload: { email: "viewer@example.com", password: PASSWORD },
        remoteAddress,
        ...(forwardedFor ? { headers: { "x-forwarded-for": forwardedFor } } : {}),
      });

    it("without a proxy (false): X-Forwarded-For is ignored", () =>
      budgets({ TRUST_PROXY: "false" }, "proxy_none", async (t) => {
        expect((await guess(t, "198.51.100.1", "1.1.1.1")).statusCode).toBe(401);
        expect((await guess(t, "198.51.100.1", "2.2.2.2")).statusCode).toBe(401);
        expect((await right(t, "198.51.100.1", "3.3.3.3")).statusCode).toBe(429);
      }));

    it("one hop: the address the proxy saw; what the client wrote before it is ignored", () =>
      budgets({ TRUST_PROXY: "1" }, "proxy_hop", async (t) => {
        const proxy = "10.0.0.5";
        expect((await guess(t, proxy, "6.6.6.1, 203.0.113.9")).statusCode).toBe(401);
        expect((await guess(t, proxy, "6.6.6.2, 203.0.113.9")).statusCode).toBe(401);
        expect((await right(t, proxy, "6.6.6.3, 203.0.113.9")).statusCode).toBe(429);
        // another client behind the same proxy has its own budget
        expect((await right(t, proxy, "203.0.113.10")).statusCode).toBe(200);
      }));

    it("proxy addresses: X-Forwarded-For is read only from those, and only up to the first other hop", () =>
      budgets({ TRUST_PROXY: "10.0.0.0/8, 127.0.0.1" }, "proxy_list", async (t) => {
        // through two trusted proxies: the client is the first untrusted hop
        expect((await guess(t, "10.0.0.5", "6.6.6.1, 203.0.113.20, 10.1.1.1")).statusCode).toBe(401);
        expect((await guess(t, "10.0.0.6", "6.6.6.2, 203.0.113.20")).statusCode).toBe(401);
        expect((await right(t, "10.0.0.5", "203.0.113.20")).statusCode).toBe(429);
        // straight from the internet: X-Forwarded-For is the client's own words, ignored
        expect((await guess(t, "198.51.100.30", "7.7.7.1")).statusCode).toBe(401);
        expect((await guess(t, "198.51.100.30", "7.7.7.2")).statusCode).toBe(401);
        expect((await right(t, "198.51.100.30", "7.7.7.3")).statusCode).toBe(429);
      }));
  });
});

/** A raw TCP client that records what the server sent and when it closed the connection. */
function rawClient(port: number): { socket: Socket; received: () => string; closed: Promise<number> } {
  const socket = connect(port, "127.0.0.1");
  const started = Date.now();
  let data = "";
  socket.on("data", (chunk) => {
    data += chunk.toString("latin1");
  });
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - started)));
  return { socket, received: () => data, closed };
}

/** Writes one chunk every `everyMs` until the socket closes. */
function trickle(socket: Socket, chunks: () => string, everyMs: number): void {
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable) return clearInterval(timer);
    socket.write(chunks());
  }, everyMs);
  socket.on("close", () => clearInterval(timer));
}

describe("slow clients", () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startTestApp("slow", {
      env: {
        HTTP_HEADERS_TIMEOUT_MS: "1000",
        HTTP_REQUEST_TIMEOUT_MS: "2000",
        HTTP_KEEP_ALIVE_TIMEOUT_MS: "1000",
        HTTP_CONNECTION_TIMEOUT_MS: "3000",
      },
    });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(() => t?.close());

  // Bounds are generous (a loaded machine); without the timeouts these sockets stay open for minutes.
  it("closes a connection whose headers trickle in past HTTP_HEADERS_TIMEOUT_MS, with a 408", async () => {
    const client = rawClient(port);
    client.socket.write("GET /health/live HTTP/1.1\r\nHost: api\r\n");
    let n = 0;
    trickle(client.socket, () => `X-Slow-${n++}: x\r\n`, 200);
    const after = await client.closed;
    expect(after).toBeGreaterThanOrEqual(900);
    expect(after).toBeLessThan(8_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("closes a connection whose body trickles in past HTTP_REQUEST_TIMEOUT_MS, with a 408", async () => {
    const client = rawClient(port);
    client.socket.write(
      "POST /api/v1/auth/login HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n",
    );
    trickle(client.socket, () => " ", 200);
    const after = await client.closed;
    expect(after).toBeGreaterThanOrEqual(1_900);
    expect(after).toBeLessThan(10_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("closes a connection that never sends a byte", async () => {
    const client = rawClient(port);
    const after = await client.closed;
    expect(after).toBeLessThan(8_000);
  });

  it("answers a client that sends in time, and closes its kept-alive connection once idle", async () => {
    const client = rawClient(port);
    client.socket.write("GET /health/live HTTP/1.1\r\nHost: api\r\nConnection: keep-alive\r\n\r\n");
    const after = await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(client.received()).toContain('{"status":"ok"}');
    expect(after).toBeGreaterThanOrEqual(900);
    expect(after).toBeLessThan(8_000);
  });
});
