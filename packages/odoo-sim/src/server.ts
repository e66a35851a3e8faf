import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { bump, type Control, type FaultSpec } from "./control.js";
import { pyJsonDumps, pyJsonDumpsBytes } from "./json.js";
import { echoPage, type HugeFormat, streamHuge } from "./misbehave.js";
import { serviceTimeMs } from "./performance.js";
import { frames, OdooException, type PyValue, traceback } from "./py.js";
import type { OdooService } from "./rpc.js";
import { dumpFault, dumpResponseBytes, parseMethodCall } from "./xmlrpc.js";

const RPC_FRAMES = [
  {
    file: "/usr/lib/python3/dist-packages/odoo/addons/base/controllers/rpc.py",
    line: 160,
    fn: "xmlrpc_2",
    code: "response = self._xmlrpc(service)",
  },
  {
    file: "/usr/lib/python3/dist-packages/odoo/addons/base/controllers/rpc.py",
    line: 140,
    fn: "_xmlrpc",
    code: "result = dispatch_rpc(service, method, params)",
  },
];

const NGINX: Record<number, string> = {
  429: "429 Too Many Requests",
  502: "502 Bad Gateway",
  503: "503 Service Temporarily Unavailable",
  504: "504 Gateway Time-out",
};
const nginxPage = (status: number) =>
  `<html>\r\n<head><title>${NGINX[status]}</title></head>\r\n<body>\r\n<center><h1>${NGINX[status]}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;

const WERKZEUG: Record<number, [string, string]> = {
  404: [
    "Not Found",
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
  ],
  405: ["Method Not Allowed", "The method is not allowed for the requested URL."],
  400: ["Bad Request", "The browser (or proxy) sent a request that this server could not understand."],
};
export const werkzeugPage = (status: number) => {
  const [title, text] = WERKZEUG[status] ?? ["Error", "Error"];
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${text}</p>\n`;
};

interface Reply {
  status: number;
  type: string;
  body: string | Buffer;
  /** A `huge` fault about the request's model: this answer is streamed instead. */
  huge?: { bytes: number; declareLength: boolean };
  headers?: Record<string, string>;
  /** Records a `search_read` or `read` answered with: what the ORM's time per record applies to. */
  records?: number;
}

/** The records of a result, when it is the answer of a method that reads records. */
const recordsOf = (method: unknown, result: unknown): number | undefined =>
  (method === "search_read" || method === "read") && Array.isArray(result) ? result.length : undefined;

const xmlReply = (body: string | Buffer): Reply => ({ status: 200, type: "text/xml; charset=utf-8", body });
const jsonReply = (status: number, body: string | Buffer): Reply => ({
  status,
  type: "application/json; charset=utf-8",
  body,
});
const htmlReply = (status: number, body: string): Reply => ({
  status,
  type: "text/html; charset=utf-8",
  body,
});

function faultCode(e: OdooException): number {
  switch (e.kind) {
    case "user":
    case "missing":
      return 2;
    case "denied":
      return 3;
    case "access":
      return 4;
    default:
      return 1;
  }
}

function toException(e: unknown): OdooException {
  if (e instanceof OdooException) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new OdooException("builtins.RuntimeError", message, "server");
}

function xmlFault(e: OdooException): string {
  const code = faultCode(e);
  return dumpFault(code, code === 1 ? traceback(e, RPC_FRAMES) : e.message);
}

export interface ServerDeps {
  service: OdooService;
  control: Control;
  basePath: string;
}

export function createSimServer({ service, control, basePath }: ServerDeps): Server {
  const version = service.version;

  const countCall = (model: unknown, method: unknown) => {
    if (typeof model === "string" && typeof method === "string")
      bump(control.stats.byModelMethod, `${model}.${method}`);
  };

  const xmlrpc = (path: string, service_: string, body: string): Reply => {
    let call: { method: string; params: unknown[] };
    try {
      call = parseMethodCall(body);
    } catch (e) {
      return xmlReply(xmlFault(toException(e)));
    }
    bump(control.stats.byMethod, `${service_}.${call.method}`);
    try {
      let result: PyValue;
      let records: number | undefined;
      if (service_ === "common") result = service.common(call.method, call.params);
      else if (service_ === "db") result = service.db(call.method);
      else {
        countCall(call.params[3], call.params[4]);
        result = service.object(call.method, call.params).run();
        records = recordsOf(call.params[4], result);
        result = control.rewriteRecords(path, call.params[3], call.params[4], result);
        const huge = control.takeHuge(path, call.params[3], call.params[4]);
        if (huge) return { ...xmlReply(""), huge };
      }
      return { ...xmlReply(dumpResponseBytes(result)), ...(records !== undefined ? { records } : {}) };
    } catch (e) {
      return xmlReply(xmlFault(toException(e)));
    }
  };

  const jsonError = (id: unknown, e: OdooException): string => {
    const debug = traceback(e, frames.dispatch);
    return pyJsonDumps({
      jsonrpc: "2.0",
      id: (id ?? null) as PyValue,
      error: {
        code: 200,
        message: "Odoo Server Error",
        data: { name: e.pyClass, debug, message: e.message, arguments: [e.message], context: {} },
      },
    });
  };

  const jsonrpc = (path: string, body: string): Reply => {
    let req: { id?: unknown; params?: { service?: unknown; method?: unknown; args?: unknown } };
    try {
      req = JSON.parse(body);
    } catch {
      return jsonReply(
        200,
        jsonError(null, new OdooException("werkzeug.exceptions.BadRequest", "Invalid JSON data", "server")),
      );
    }
    const id = req?.id ?? null;
    const params = req?.params ?? {};
    const svc = String(params.service ?? "");
    const method = String(params.method ?? "");
    const args = Array.isArray(params.args) ? params.args : [];
    bump(control.stats.byMethod, `jsonrpc.${svc}.${method}`);
    try {
      let result: PyValue;
      let records: number | undefined;
      if (svc === "common") result = service.common(method, args);
      else if (svc === "object") {
        countCall(args[3], args[4]);
        result = service.object(method, args).run();
        records = recordsOf(args[4], result);
        result = control.rewriteRecords(path, args[3], args[4], result);
        const huge = control.takeHuge(path, args[3], args[4]);
        if (huge) return { ...jsonReply(200, ""), huge };
      } else if (svc === "db") result = service.db(method);
      else throw new OdooException("builtins.Exception", `No such RPC service: '${svc}'`, "server");
      const reply = jsonReply(200, pyJsonDumpsBytes({ jsonrpc: "2.0", id: id as PyValue, result }));
      return { ...reply, ...(records !== undefined ? { records } : {}) };
    } catch (e) {
      return jsonReply(200, jsonError(id, toException(e)));
    }
  };

  const json2 = (req: IncomingMessage, path: string, model: string, method: string, body: string): Reply => {
    bump(control.stats.byMethod, "json2");
    countCall(model, method);
    const error = (status: number, e: OdooException) =>
      jsonReply(
        status,
        pyJsonDumps({
          name: e.pyClass,
          message: e.message,
          arguments: [e.message],
          context: {},
          debug: traceback(e, []),
        }),
      );
    const auth = req.headers.authorization ?? "";
    const m = /^bearer\s+(.+)$/i.exec(auth);
    if (!m || m[1]!.trim() !== service.creds.apiKey) {
      return error(401, new OdooException("werkzeug.exceptions.Unauthorized", "Invalid apikey", "denied"));
    }
    const db = req.headers["x-odoo-database"];
    if (db !== undefined && db !== service.creds.database) {
      return error(
        404,
        new OdooException("werkzeug.exceptions.NotFound", `database "${String(db)}" not found`, "notfound"),
      );
    }
    let params: Record<string, unknown>;
    try {
      params = body.trim() === "" ? {} : JSON.parse(body);
      if (!params || typeof params !== "object" || Array.isArray(params)) throw new Error("not an object");
    } catch {
      return error(400, new OdooException("werkzeug.exceptions.BadRequest", "Invalid JSON body", "badargs"));
    }
    try {
      const result = service.callNamed(model, method, params);
      const records = recordsOf(method, result);
      const answer = control.rewriteRecords(path, model, method, result);
      const huge = control.takeHuge(path, model, method);
      if (huge) return { ...jsonReply(200, ""), huge };
      return { ...jsonReply(200, pyJsonDumpsBytes(answer)), ...(records !== undefined ? { records } : {}) };
    } catch (e) {
      const x = toException(e);
      const status = {
        denied: 401,
        access: 403,
        missing: 404,
        notfound: 404,
        user: 422,
        badargs: 422,
        server: 500,
      }[x.kind];
      return error(status, x);
    }
  };

  const control_ = async (path: string, method: string, body: string): Promise<Reply> => {
    const ok = (value: unknown) => jsonReply(200, JSON.stringify(value ?? { ok: true }));
    const p = (body.trim() ? JSON.parse(body) : {}) as Record<string, unknown>;
    const ids = (p.ids as number[] | undefined) ?? [];
    const model = String(p.model ?? "");
    const values = (p.values as Record<string, unknown> | undefined) ?? {};
    const at = p.at as string | undefined;
    const opts = at !== undefined ? { at } : {};
    switch (`${method} ${path}`) {
      case "GET /stats":
        return ok(control.getStats());
      case "POST /stats/reset":
        control.resetStats();
        return ok(null);
      case "GET /info":
        return ok({
          version,
          database: service.creds.database,
          counts: control.counts(),
          now: control.now(),
        });
      case "POST /clock":
        control.setClock((p.now as string | null | undefined) ?? null);
        return ok({ now: control.now() });
      case "POST /clock/advance":
        return ok({ now: control.advanceClock(Number(p.seconds ?? 0)) });
      case "POST /update":
        return ok(control.update(model, ids, values, opts));
      case "POST /burst":
        return ok(control.burst(model, ids, values, opts));
      case "POST /late-commit":
        return ok(control.lateCommit(model, ids, values, Number(p.secondsAgo ?? p.seconds_ago ?? 0)));
      case "POST /create":
        return ok(control.create(model, values, opts));
      case "POST /create-move":
        return ok(control.createMove(values, opts));
      case "POST /archive":
        return ok(control.archive(model, ids, opts));
      case "POST /unarchive":
        return ok(control.unarchive(model, ids, opts));
      case "POST /delete":
        return ok(control.delete(model, ids, opts));
      case "POST /regenerate-lines":
        return ok(control.regenerateLines(Number(p.moveId ?? p.move_id), opts));
      case "POST /pay-invoice":
        return ok(
          control.payInvoice(Number(p.moveId ?? p.move_id), {
            ...opts,
            ...(typeof p.date === "string" ? { date: p.date } : {}),
            ...(p.amount !== undefined ? { amount: Number(p.amount) } : {}),
          }),
        );
      case "POST /faults":
        return ok(control.injectFault(p as unknown as FaultSpec));
      case "POST /faults/clear":
      case "DELETE /faults":
        control.clearFaults();
        return ok(null);
      case "GET /performance":
        return ok(control.getPerformance());
      case "POST /performance":
        return ok(control.setPerformance(p));
      case "POST /lockout":
        control.lockout(Number(p.seconds ?? 60));
        return ok(null);
      default:
        return jsonReply(404, JSON.stringify({ error: `unknown control endpoint ${method} ${path}` }));
    }
  };

  const route = async (req: IncomingMessage, path: string, body: string): Promise<Reply> => {
    const method = req.method ?? "GET";
    const xml = /^\/xmlrpc\/2\/(common|object|db)$/.exec(path);
    if (xml) return method === "POST" ? xmlrpc(path, xml[1]!, body) : htmlReply(405, werkzeugPage(405));
    if (path === "/jsonrpc")
      return method === "POST" ? jsonrpc(path, body) : htmlReply(405, werkzeugPage(405));
    if (version >= 19) {
      const j2 = /^\/json\/2\/([^/]+)\/([^/]+)$/.exec(path);
      if (j2) {
        if (method !== "POST") return htmlReply(405, werkzeugPage(405));
        return json2(req, path, decodeURIComponent(j2[1]!), decodeURIComponent(j2[2]!), body);
      }
      if (path === "/web/version" && (method === "GET" || method === "POST")) {
        bump(control.stats.byMethod, "web.version");
        return jsonReply(
          200,
          pyJsonDumps({ version_info: [version, 0, 0, "final", 0, ""], version: `${version}.0` }),
        );
      }
    }
    if (path === "/web/webclient/version_info" && method === "POST") {
      return jsonReply(200, pyJsonDumps({ jsonrpc: "2.0", id: null, result: service.versionInfo() }));
    }
    return htmlReply(404, werkzeugPage(404));
  };

  const send = (res: ServerResponse, reply: Reply, reset: boolean, counted = true, trickleMs = 0) => {
    const body = typeof reply.body === "string" ? Buffer.from(reply.body, "utf8") : reply.body;
    if (counted) bump(control.stats.byStatus, String(reply.status));
    res.writeHead(reply.status, {
      "Content-Type": reply.type,
      "Content-Length": String(body.length),
      Server: reply.status >= 502 ? "nginx" : "Werkzeug/3.0.1 Python/3.12.3",
      ...reply.headers,
    });
    if (reset) {
      // Half the body, then the connection dies (a worker killed mid-response).
      res.write(body.subarray(0, Math.max(1, Math.floor(body.length / 2))), () => {
        res.socket?.destroy();
      });
      return;
    }
    if (trickleMs > 0 && body.length > 1) {
      // The answer in 20 pieces spread over trickleMs: a slow link, or a proxy that dribbles.
      const pieces = Math.min(20, body.length);
      const size = Math.ceil(body.length / pieces);
      let at = 0;
      const next = () => {
        if (res.destroyed) return;
        const end = Math.min(body.length, at + size);
        if (end >= body.length) {
          res.end(body.subarray(at));
          return;
        }
        res.write(body.subarray(at, end));
        at = end;
        setTimeout(next, trickleMs / pieces);
      };
      next();
      return;
    }
    res.end(body);
  };

  const hugeFormat = (path: string): HugeFormat =>
    path.startsWith("/json/2/") ? "json2" : path === "/jsonrpc" ? "jsonrpc" : "xmlrpc";

  /** An RPC request: in line for a worker, served for the ORM's time, then answered. */
  const serve = async (req: IncomingMessage, res: ServerResponse, path: string, body: string) => {
    const fault = control.takeFaults(path);
    if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.status) {
      send(res, htmlReply(fault.status, nginxPage(fault.status)), false);
      return;
    }
    if (fault.echo !== undefined) {
      const page = echoPage(fault.echo, req.method ?? "POST", path, req.headers, body);
      send(res, { status: fault.echo, type: "text/plain; charset=utf-8", body: page }, false);
      return;
    }
    if (fault.huge) {
      bump(control.stats.byStatus, "200");
      await streamHuge(res, hugeFormat(path), fault.huge.bytes, fault.huge.declareLength);
      return;
    }
    if (!(await control.workers.acquire())) {
      const status = control.performance.refuseStatus;
      send(res, htmlReply(status, nginxPage(status)), false);
      return;
    }
    let reply: Reply;
    try {
      try {
        reply = await route(req, path, body);
      } catch (e) {
        reply = htmlReply(
          500,
          `<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>${String(e)}</p>\n`,
        );
      }
      const ms = serviceTimeMs(control.performance, reply.records ?? 0);
      if (ms > 0) {
        // The answer waits as bytes: a page built by concatenation is a rope of ~10⁵ small strings,
        // and kept alive through the ORM's time it would survive young collections and be promoted,
        // which made the garbage collector a quarter of this process's time (its CPU profile).
        if (typeof reply.body === "string") reply = { ...reply, body: Buffer.from(reply.body, "utf8") };
        await new Promise((r) => setTimeout(r, ms));
      }
    } finally {
      control.workers.release();
    }
    if (reply.huge) {
      bump(control.stats.byStatus, "200");
      await streamHuge(res, hugeFormat(path), reply.huge.bytes, reply.huge.declareLength);
      return;
    }
    send(res, reply, fault.reset, true, fault.trickleMs);
  };

  return createServer((req, res) => {
    const rpc = !(req.url ?? "/").startsWith("/__sim/");
    if (rpc) {
      // In flight from the request's arrival until its answer is sent (or the connection drops).
      control.workers.arrived();
      res.once("close", () => control.workers.left());
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let path = decodeURI((req.url ?? "/").split("?")[0]!);
        if (path.startsWith("/__sim/")) {
          try {
            const reply = await control_(path.slice("/__sim".length), req.method ?? "GET", body);
            send(res, reply, false, false);
          } catch (e) {
            const message = e instanceof Error ? e.message : String(e);
            send(res, jsonReply(400, JSON.stringify({ error: message })), false, false);
          }
          return;
        }
        if (basePath) {
          if (!path.startsWith(`${basePath}/`)) {
            send(res, htmlReply(404, werkzeugPage(404)), false);
            return;
          }
          path = path.slice(basePath.length);
        }
        control.stats.total++;
        bump(control.stats.byPath, path);
        await serve(req, res, path, body);
      })();
    });
  });
}

export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
