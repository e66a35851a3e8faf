import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceptsGzip } from "../src/cached-reply.js";
import { type Etl, startEtl } from "./etl.js";
import { auth, startTestApp, type TestApp } from "./helpers.js";

/*
 * Cached finance reads are sent gzip-compressed to clients that accept it (every browser does),
 * encoded once per cache entry, with their own ETag and Vary: Accept-Encoding.
 */

let t: TestApp;
let etl: Etl;

const get = (url: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: "GET", url, headers: { ...auth(t.tokens.viewer), ...headers } });

const BROWSER = "gzip, deflate, br, zstd";
const LIST = "/api/v1/invoices?limit=50";

beforeAll(async () => {
  t = await startTestApp("compression");
  etl = await startEtl(t);
  const { run } = await etl.sync({ mode: "full" });
  expect(run.status, JSON.stringify(run)).toBe("succeeded");
}, 120_000);
afterAll(async () => {
  await etl?.close();
  await t?.close();
});

describe("compressed cached reads", () => {
  it("sends a browser the same JSON gzip-compressed, from the cache, several times smaller", async () => {
    const plain = await get(LIST);
    expect(plain.statusCode).toBe(200);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.json().items).toHaveLength(50);

    for (const attempt of [1, 2]) {
      const zipped = await get(LIST, { "accept-encoding": BROWSER });
      expect(zipped.statusCode, `attempt ${attempt}`).toBe(200);
      expect(zipped.headers["x-cache"]).toBe("hit");
      expect(zipped.headers["content-encoding"]).toBe("gzip");
      expect(zipped.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(String(zipped.headers.vary)).toMatch(/Accept-Encoding/);
      expect(gunzipSync(zipped.rawPayload).toString()).toBe(plain.body);
      expect(zipped.rawPayload.length).toBeLessThan(plain.rawPayload.length / 3);
      // Another representation, another strong ETag.
      expect(zipped.headers.etag).not.toBe(plain.headers.etag);
      expect(zipped.headers.etag).toMatch(/^".+-gzip"$/);
    }
  });

  it("answers 304 to If-None-Match with either representation's ETag", async () => {
    const plain = await get(LIST);
    const zipped = await get(LIST, { "accept-encoding": BROWSER });
    for (const etag of [plain.headers.etag, zipped.headers.etag, `W/${plain.headers.etag}`]) {
      const gz = await get(LIST, { "accept-encoding": BROWSER, "if-none-match": String(etag) });
      expect(gz.statusCode).toBe(304);
      expect(gz.headers.etag).toBe(zipped.headers.etag);
      const id = await get(LIST, { "if-none-match": String(etag) });
      expect(id.statusCode).toBe(304);
      expect(id.headers.etag).toBe(plain.headers.etag);
    }
    expect((await get(LIST, { "if-none-match": '"something-else"' })).statusCode).toBe(200);
  });

  it("sends identity when gzip is refused, and small bodies as they are", async () => {
    for (const header of ["identity", "gzip;q=0, br", "*;q=0", "br, deflate"]) {
      const res = await get(LIST, { "accept-encoding": header });
      expect(res.headers["content-encoding"], header).toBeUndefined();
      expect(res.json().items).toHaveLength(50);
    }
    const star = await get(LIST, { "accept-encoding": "*" });
    expect(star.headers["content-encoding"]).toBe("gzip");
    const small = await get("/api/v1/invoices?limit=1", { "accept-encoding": BROWSER });
    expect(small.statusCode).toBe(200);
    expect(small.rawPayload.length).toBeLessThan(1024);
    expect(small.headers["content-encoding"]).toBeUndefined();
  });

  it("reads Accept-Encoding like RFC 9110: q=0 refuses, gzip beats *", () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip("")).toBe(false);
    expect(acceptsGzip("GZIP")).toBe(true);
    expect(acceptsGzip("br;q=1.0, gzip;q=0.5")).toBe(true);
    expect(acceptsGzip("gzip;q=0.000")).toBe(false);
    expect(acceptsGzip("*, gzip;q=0")).toBe(false);
    expect(acceptsGzip("*;q=0, gzip")).toBe(true);
    expect(acceptsGzip("x-gzip")).toBe(true);
  });
});
