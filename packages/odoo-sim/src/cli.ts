#!/usr/bin/env node
import { parseArgs } from "node:util";
import type { FaultSpec } from "./control.js";
import { startOdooSim } from "./index.js";
import type { OdooVersion } from "./models.js";
import { DEFAULT_PERFORMANCE, mergePerformance, type Performance } from "./performance.js";

const USAGE = `Usage: odoo-sim [options]

  --port <n>        port to listen on (default 8069; 0 = random)
  --host <host>     address to bind (default 127.0.0.1)
  --database <db>   database name (default odoo)
  --user <login>    login (default admin)
  --password <pw>   password (default admin)
  --api-key <key>   API key (default: the password)
  --seed <n>        data seed (default 1)
  --scale <x>       data volume, linear: 1 ≈ 10 000 journal items (default 0.1)
  --version <v>     Odoo version to imitate: 16, 17, 18 or 19 (default 17)
  --base-path <p>   serve under a path prefix, e.g. /odoo
  --latency-ms <ms>       time of every RPC request, as a real server's ORM takes (default 0)
  --per-record-ms <ms>    added per record a search_read or read returns (default 0)
  --workers <n>           requests served at once; more wait in line, as on Odoo's prefork
                          server (default 0: no limit)
  --queue-limit <n>       requests that may wait for a worker; more are refused (default: no limit)
  --refuse-status <code>  503 (default) or 429, the status of a refused request
  --fault <json>          misbehave on purpose from the start, as POST /__sim/faults would
                          (repeatable), e.g.
                            '{"kind":"slow","delayMs":5000}'       every answer 5 s late
                            '{"kind":"huge","bytes":1073741824}'   the next answer 1 GiB long
                            '{"kind":"deep","model":"res.partner","field":"name"}'
                                                                   names nested 10 000 levels deep
                            '{"kind":"poison","model":"account.move","id":7,"field":"date","text":"2023-02-30"}'
                            '{"kind":"poison","model":"res.partner","field":"name","hex":"4361ff00"}'
                                                                   bytes that are not UTF-8, and NUL
                            '{"kind":"echo"}'                      a proxy echoing the request (400)
  -h, --help        this help`;

function fail(message: string): never {
  process.stderr.write(`odoo-sim: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        host: { type: "string" },
        database: { type: "string" },
        user: { type: "string" },
        password: { type: "string" },
        "api-key": { type: "string" },
        seed: { type: "string" },
        scale: { type: "string" },
        version: { type: "string" },
        "base-path": { type: "string" },
        "latency-ms": { type: "string" },
        "per-record-ms": { type: "string" },
        workers: { type: "string" },
        "queue-limit": { type: "string" },
        "refuse-status": { type: "string" },
        fault: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const num = (name: string, fallback: number) => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n)) fail(`--${name} must be a number, got "${String(raw)}"`);
    return n;
  };
  const version = num("version", 17);
  if (![16, 17, 18, 19].includes(version)) fail(`--version must be 16, 17, 18 or 19, got ${version}`);
  const str = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  const perf = {
    ...(values["latency-ms"] !== undefined ? { latencyMs: num("latency-ms", 0) } : {}),
    ...(values["per-record-ms"] !== undefined ? { perRecordMs: num("per-record-ms", 0) } : {}),
    ...(values.workers !== undefined ? { workers: num("workers", 0) } : {}),
    ...(values["queue-limit"] !== undefined ? { queueLimit: num("queue-limit", 0) } : {}),
    ...(values["refuse-status"] !== undefined ? { refuseStatus: num("refuse-status", 503) } : {}),
  };
  try {
    mergePerformance(DEFAULT_PERFORMANCE, perf);
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  const faults: FaultSpec[] = [];
  for (const text of (values.fault as string[] | undefined) ?? []) {
    try {
      faults.push(JSON.parse(text) as FaultSpec);
    } catch {
      fail(`--fault must be a JSON object such as '{"kind":"slow","delayMs":5000}', got ${text}`);
    }
  }
  const started = performance.now();
  const sim = await startOdooSim({
    performance: perf as Partial<Performance>,
    port: num("port", 8069),
    host: str("host") ?? "127.0.0.1",
    ...(str("database") ? { database: str("database")! } : {}),
    ...(str("user") ? { username: str("user")! } : {}),
    ...(str("password") ? { password: str("password")! } : {}),
    ...(str("api-key") ? { apiKey: str("api-key")! } : {}),
    ...(str("base-path") ? { basePath: str("base-path")! } : {}),
    seed: num("seed", 1),
    scale: num("scale", 0.1),
    version: version as OdooVersion,
  }).catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
  for (const fault of faults) {
    try {
      sim.control.injectFault(fault);
    } catch (e) {
      await sim.close();
      fail(`--fault ${JSON.stringify(fault)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const counts = sim.generation.counts;
  process.stdout.write(
    [
      `Odoo ${sim.version}.0 simulator ready at ${sim.url} (${Math.round(performance.now() - started)} ms)`,
      `  ODOO_URL=${sim.url}`,
      `  ODOO_DB=${sim.database}`,
      `  ODOO_USERNAME=${sim.username}`,
      `  ODOO_PASSWORD=${sim.password}`,
      `  API key: ${sim.apiKey}`,
      `  data: ${counts["account.move.line"]} journal items, ${counts["account.move"]} moves, ${counts["res.partner"]} partners, ${counts["account.payment"]} payments (generated in ${Math.round(sim.generation.ms)} ms)`,
      `  answers: ${describePerformance(sim.control.getPerformance())}`,
      ...(faults.length ? [`  faults: ${faults.map((f) => JSON.stringify(f)).join(" ")}`] : []),
      `  control API: ${sim.url}/__sim/stats (see packages/odoo-sim/README.md)`,
      "",
    ].join("\n"),
  );
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    process.stdout.write(`odoo-sim: ${signal}, shutting down\n`);
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

const describePerformance = (p: Performance): string =>
  p.latencyMs === 0 && p.perRecordMs === 0 && p.workers === 0
    ? "at once, no worker limit"
    : `${p.latencyMs} ms + ${p.perRecordMs} ms per record read, ${p.workers || "unlimited"} workers` +
      (Number.isFinite(p.queueLimit) ? `, at most ${p.queueLimit} waiting (then ${p.refuseStatus})` : "");

void main();
