import { afterEach, describe, expect, it } from "vitest";
import { HttpClient } from "../src/http.js";
import { type Handler, type ScriptedServer, startScriptedServer } from "./helpers.js";

/** Answers `body` with Content-Length, or chunked in pieces of `piece` bytes (no length). */
const answer =
  (body: Buffer, piece?: number): Handler =>
  (_req, _body, res) => {
    if (piece === undefined) {
      res.writeHead(200, { "Content-Type": "text/xml", "Content-Length": String(body.length) });
      res.end(body);
      return;
    }
    res.writeHead(200, { "Content-Type": "text/xml" });
    for (let at = 0; at < body.length; at += piece) res.write(body.subarray(at, at + piece));
    res.end();
  };

const bytes = (size: number, seed: number) => {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

describe("pooled answers (a sync's pages: read, decoded, given back)", () => {
  let server: ScriptedServer | undefined;
  afterEach(() => server?.close());

  const send = (http: HttpClient) =>
    http.send({
      method: "POST",
      path: "xmlrpc/2/object",
      body: "x",
      protocol: "xmlrpc",
      call: "t",
      pooled: true,
    });

  it("reads the next answer into the buffer the previous one gave back, whatever their sizes", async () => {
    const large = bytes(3_000_000, 1);
    const small = bytes(200_000, 2);
    const chunked = bytes(2_500_000, 3);
    server = await startScriptedServer(answer(large), answer(small), answer(chunked, 65_536));
    const http = new HttpClient(server.url, 10_000, 2);
    const first = await send(http);
    expect(first.body.equals(large)).toBe(true);
    const buffer = first.body.buffer;
    first.release?.();
    first.release?.(); // once only: a second call gives nothing back twice
    const second = await send(http);
    expect(second.body.buffer).toBe(buffer);
    expect(second.body.length).toBe(small.length);
    expect(second.body.equals(small)).toBe(true); // none of the larger answer's bytes show
    second.release?.();
    const third = await send(http);
    expect(third.body.buffer).toBe(buffer);
    expect(third.body.equals(chunked)).toBe(true);
  });

  it("an answer not given back keeps its bytes: the next one goes elsewhere", async () => {
    const one = bytes(1_500_000, 4);
    const two = bytes(1_500_000, 5);
    server = await startScriptedServer(answer(one), answer(two));
    const http = new HttpClient(server.url, 10_000, 2);
    const first = await send(http);
    const second = await send(http);
    expect(second.body.buffer).not.toBe(first.body.buffer);
    expect(first.body.equals(one)).toBe(true);
    expect(second.body.equals(two)).toBe(true);
  });

  it("an answer longer than its buffer (no Content-Length) grows into a larger one", async () => {
    const big = bytes(5_000_000, 6);
    server = await startScriptedServer(answer(big, 100_000));
    const http = new HttpClient(server.url, 10_000, 2);
    const res = await send(http);
    expect(res.body.equals(big)).toBe(true);
    res.release?.();
    expect(http.bodies.held.bytes).toBeGreaterThanOrEqual(5_000_000);
  });
});
