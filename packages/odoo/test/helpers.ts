/** Test helpers: CPython's XML-RPC fixture process, the `xmlrpc` package's parser, a scriptable HTTP server. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const FIXTURE = fileURLToPath(new URL("./py/xmlrpc_fixture.py", import.meta.url));
const run = promisify(execFile);

export interface PythonServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts CPython's SimpleXMLRPCServer fixture; `odoo` strips control characters like Odoo's marshaller. */
export async function startPythonServer(mode: "stock" | "odoo"): Promise<PythonServer> {
  const child: ChildProcess = spawn("python3", [FIXTURE, "serve", ...(mode === "odoo" ? ["odoo"] : [])], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`python3 fixture exited with ${code}`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split("\n")[0];
      if (buffered.includes("\n") && line) resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}

/** What CPython's `xmlrpc.client.ServerProxy` returns for METHOD(*args) (tagged JSON, see the fixture). */
export async function pythonClientView(port: number, method: string, args: unknown[]): Promise<unknown> {
  const { stdout } = await run("python3", [FIXTURE, "client", String(port), method, JSON.stringify(args)]);
  return untag(JSON.parse(stdout));
}

function untag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untag);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (typeof obj.$float === "string") {
      return obj.$float === "nan" ? Number.NaN : obj.$float.startsWith("-") ? -Infinity : Infinity;
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, untag(v)]));
  }
  return value;
}

const require = createRequire(import.meta.url);
type PackageDeserializer = new () => {
  deserializeMethodResponse(stream: Readable, cb: (error: unknown, value: unknown) => void): void;
};
const Deserializer = require("xmlrpc/lib/deserializer.js") as PackageDeserializer;

/** The `xmlrpc` package's own (sax-based) parser: the value, or the fault as { faultCode, faultString }. */
export function packageDecode(
  xml: string | Buffer,
): Promise<{ value?: unknown; fault?: unknown; error?: string }> {
  return new Promise((resolve) => {
    new Deserializer().deserializeMethodResponse(Readable.from([Buffer.from(xml)]), (error, value) => {
      if (!error) return resolve({ value });
      const e = error as { faultCode?: unknown; faultString?: unknown; message?: string };
      if (e.faultCode !== undefined)
        return resolve({ fault: { faultCode: e.faultCode, faultString: e.faultString } });
      resolve({ error: e.message ?? String(error) });
    });
  });
}

export type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

export interface ScriptedServer {
  url: string;
  /** Requests received, in order. */
  requests: { path: string; body: string; headers: http.IncomingHttpHeaders }[];
  /** Highest number of requests in flight at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

/** A real local HTTP server whose answers the test scripts: handlers are used in turn, the last one repeats. */
export async function startScriptedServer(...handlers: Handler[]): Promise<ScriptedServer> {
  let inFlight = 0;
  const state: ScriptedServer = {
    url: "",
    requests: [],
    maxInFlight: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const index = state.requests.length;
      state.requests.push({ path: req.url ?? "", body, headers: req.headers });
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      res.on("close", () => inFlight--);
      const handler = handlers[Math.min(index, handlers.length - 1)];
      handler?.(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

export const reply =
  (status: number, contentType: string, body: string, delayMs = 0): Handler =>
  (_req, _body, res) => {
    setTimeout(() => {
      res.writeHead(status, { "Content-Type": contentType });
      res.end(body);
    }, delayMs);
  };

export const xml = (body: string, delayMs = 0): Handler => reply(200, "text/xml", body, delayMs);
export const json = (status: number, body: unknown): Handler =>
  reply(status, "application/json", JSON.stringify(body));
export const html = (status: number, title: string): Handler =>
  reply(
    status,
    "text/html",
    `<html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>`,
  );
/** Closes the connection without an answer (what a killed worker looks like). */
export const reset: Handler = (req) => req.socket.destroy();
/** Never answers. */
export const hang: Handler = () => {};
