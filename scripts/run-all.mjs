#!/usr/bin/env node
// Runs the whole system on local PostgreSQL and Redis: builds what is needed, migrates, starts the
// Odoo simulator with demo data when no ODOO_URL is set, then runs the five services with their
// logs interleaved and prefixed by service. Ctrl-C (or SIGTERM) stops everything gracefully.
//
//   pnpm start          built services (node dist/main.js), as in production
//   pnpm dev            watch mode: services run from TypeScript sources and restart on change
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const watch = process.argv.includes("--watch");
const SERVICES = ["web-api", "etl-worker", "scheduler", "report-worker", "mailer"];
// The workers' health ports: 3101–3104 in this order, or from HEALTH_PORT on when it is set (one
// HEALTH_PORT for all four would make them collide on this host; web-api takes PORT).
const HEALTH_WORKERS = ["etl-worker", "scheduler", "report-worker", "mailer"];
const tty = process.stdout.isTTY === true;
const COLORS = [36, 32, 33, 35, 34, 31, 90];
const width = Math.max(...SERVICES.map((s) => s.length), "odoo-sim".length);

const env = {
  DATABASE_URL: "postgres://postgres@127.0.0.1:5432/finanzas",
  REDIS_URL: "redis://127.0.0.1:6379",
  // People read these logs: pretty when this terminal is one, JSON otherwise.
  LOG_FORMAT: tty ? "pretty" : "json",
  ...process.env,
};
// A first admin to log in with, for a local run only (web-api never defaults it itself).
if (env.NODE_ENV !== "production" && !env.ADMIN_EMAIL && !env.ADMIN_PASSWORD) {
  env.ADMIN_EMAIL = "admin@example.com";
  env.ADMIN_PASSWORD = "demo-admin-password";
}
// Reminders carry their one-click unsubscribe link in a local run too: the mailer signs it and
// web-api verifies it with the same secret (a fixed one, so links sent before a restart still
// work), pointing at this web-api. Production sets its own (both services refuse to start without).
if (env.NODE_ENV !== "production" && !env.MAIL_UNSUBSCRIBE_SECRET) {
  env.MAIL_UNSUBSCRIBE_SECRET = "demo-unsubscribe-secret-for-local-runs-only";
}
env.MAIL_PUBLIC_URL ||= `http://127.0.0.1:${env.PORT || 3000}`;

const healthBase = Number(env.HEALTH_PORT || 3101);
if (!Number.isInteger(healthBase) || healthBase < 1 || healthBase + HEALTH_WORKERS.length - 1 > 65_535) {
  process.stderr.write(`run-all: HEALTH_PORT must be a port number (got ${env.HEALTH_PORT})\n`);
  process.exit(1);
}
const healthPort = (name) => healthBase + HEALTH_WORKERS.indexOf(name);

function say(message) {
  process.stdout.write(`${tty ? "\x1b[1m" : ""}run-all${tty ? "\x1b[0m" : ""} ${message}\n`);
}

function step(title, command, args) {
  say(title);
  const result = spawnSync(command, args, { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) {
    say(`${title} failed (exit ${result.status ?? result.signal}); stopping.`);
    process.exit(result.status ?? 1);
  }
}

const children = new Map();
let stopping = false;

function prefixed(name, index, stream, target) {
  const label = name.padEnd(width);
  const tag = tty ? `\x1b[${COLORS[index % COLORS.length]}m${label} |\x1b[0m ` : `${label} | `;
  let pending = "";
  stream.on("data", (chunk) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) target.write(`${tag}${line}\n`);
  });
  stream.on("end", () => {
    if (pending) target.write(`${tag}${pending}\n`);
  });
}

function start(name, index, command, args, extraEnv = {}) {
  // Each child in its own process group: a terminal's Ctrl-C reaches only this script, which then
  // sends one SIGTERM to each service (a second signal would make a service exit at once).
  const child = spawn(command, args, {
    cwd: root,
    env: { ...env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  prefixed(name, index, child.stdout, process.stdout);
  prefixed(name, index, child.stderr, process.stderr);
  children.set(name, child);
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (!stopping) {
      say(`${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the others.`);
      process.exitCode = 1;
      stopAll();
    } else if (children.size === 0) {
      say("all services stopped.");
    }
  });
  return child;
}

function stopAll() {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill("SIGTERM");
}

async function waitForPort(port, host, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, host);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

process.on("SIGINT", () => {
  if (stopping) process.exit(130);
  say("stopping (Ctrl-C again to kill)…");
  stopAll();
});
process.on("SIGTERM", stopAll);
// If this script dies, take the services with it.
process.on("exit", () => {
  for (const child of children.values()) child.kill("SIGTERM");
});

const pnpm = process.platform === "win32" ? "pnpm.cmd" : "pnpm";
const buildFilters = watch
  ? ["--filter=@finanzas/db", "--filter=@finanzas/odoo-sim"]
  : ["--filter=./apps/*", "--filter=@finanzas/db", "--filter=@finanzas/odoo-sim"];
step("building…", pnpm, ["exec", "turbo", "run", "build", ...buildFilters, "--output-logs=errors-only"]);
step("migrating the database…", process.execPath, [join(root, "packages/db/dist/migrate-cli.js")]);

const simCli = join(root, "packages/odoo-sim/dist/cli.js");
if (!env.ODOO_URL && existsSync(simCli)) {
  const port = Number(env.ODOO_SIM_PORT ?? 8069);
  Object.assign(env, {
    ODOO_URL: `http://127.0.0.1:${port}`,
    ODOO_DB: env.ODOO_DB ?? "demo",
    ODOO_USERNAME: env.ODOO_USERNAME ?? "admin",
    ODOO_PASSWORD: env.ODOO_PASSWORD ?? "admin",
  });
  say(`no ODOO_URL set: starting the Odoo simulator with demo data on ${env.ODOO_URL}`);
  const simArgs = [simCli, "--port", String(port), "--database", env.ODOO_DB, "--user", env.ODOO_USERNAME];
  simArgs.push("--password", env.ODOO_PASSWORD, "--scale", env.ODOO_SIM_SCALE ?? "1");
  simArgs.push("--version", env.ODOO_SIM_VERSION ?? "17");
  start("odoo-sim", SERVICES.length, process.execPath, simArgs);
  if (!(await waitForPort(port, "127.0.0.1", 60_000))) {
    say("the Odoo simulator did not start within 60 s; stopping.");
    stopAll();
  }
}

if (!stopping) {
  SERVICES.forEach((name, index) => {
    const dir = join(root, "apps", name);
    const serviceEnv = HEALTH_WORKERS.includes(name) ? { HEALTH_PORT: String(healthPort(name)) } : {};
    if (watch) {
      start(
        name,
        index,
        process.execPath,
        [
          join(root, "node_modules/tsx/dist/cli.mjs"),
          "watch",
          "--conditions=source",
          join(dir, "src/main.ts"),
        ],
        serviceEnv,
      );
    } else {
      start(name, index, process.execPath, [join(dir, "dist/main.js")], serviceEnv);
    }
  });
  const apiPort = env.PORT || 3000;
  say(
    `running ${SERVICES.join(", ")}; API docs on http://127.0.0.1:${apiPort}/docs ` +
      `(log in as ${env.ADMIN_EMAIL ?? "your ADMIN_EMAIL"}); health (/health/ready): web-api :${apiPort}, ` +
      HEALTH_WORKERS.map((name) => `${name} :${healthPort(name)}`).join(", "),
  );
}
