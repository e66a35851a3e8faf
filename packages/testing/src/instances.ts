import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateToLatest } from "@finanzas/db";
import { Redis } from "ioredis";
import pg from "pg";
import { freePort } from "./process.js";

/**
 * PostgreSQL and Redis servers of a test's own, for tests that stop, kill, freeze or restart
 * them: the shared servers on 5432 and 6379 are never touched. Each instance lives in a temporary
 * directory, listens on 127.0.0.1 on a free port and keeps that port across restarts, so clients
 * reconnect to the same URL. PostgreSQL refuses to run as root: under root the server runs as the
 * `postgres` user.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Directory of PostgreSQL's server binaries (initdb, postgres): on PATH, or Debian's versioned one. */
export function postgresBinDir(): string {
  try {
    const initdb = execFileSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" }).trim();
    if (initdb) return join(initdb, "..");
  } catch {
    // not on PATH
  }
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error("initdb not found: install PostgreSQL's server binaries");
  return join(root, versions[0], "bin");
}

/** Under root, the uid/gid of the `postgres` user; otherwise nothing (run as ourselves). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

export interface PostgresInstance {
  port: number;
  dataDir: string;
  /** URL of a database on this server (`postgres` by default), user `postgres`, no password. */
  url(database?: string): string;
  /** Creates a database and migrates it to the latest schema; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Starts the server (again) on the same port and data directory; waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops the server: `fast` (SIGINT, rolls back and disconnects), `immediate` (SIGQUIT, crash-like). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** SIGKILL to the postmaster and every backend, as a crash or an OOM kill of the container would. */
  kill(): Promise<void>;
  /** stop(mode) then start(); resolves when connections are accepted again. */
  restart(mode?: "fast" | "immediate"): Promise<void>;
  /** pg_terminate_backend on every other client backend (optionally only one application_name); how many. */
  terminateBackends(applicationName?: string): Promise<number>;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
  /** The server's log so far. */
  log(): string;
}

export async function startPostgres(
  options: { settings?: Record<string, string> } = {},
): Promise<PostgresInstance> {
  const bin = postgresBinDir();
  const user = postgresUser();
  const root = mkdtempSync(join(tmpdir(), "finanzas-pg-"));
  chmodSync(root, 0o755);
  const dataDir = join(root, "data");
  if (user) chownSync(root, user.uid, user.gid);
  execFileSync(
    join(bin, "initdb"),
    ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
    { stdio: "ignore", ...(user ?? {}) },
  );
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = "";
  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: root,
    // fsync and full-page writes only guard against a crash of the machine, which a test never
    // causes; a killed server still finds every committed transaction in the page cache. Commits
    // stay synchronous: with `synchronous_commit = off` a SIGKILL loses the last commits still in
    // shared memory, and a test could not tell that loss from a bug.
    fsync: "off",
    full_page_writes: "off",
    max_connections: "100",
    ...options.settings,
  };
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const accepts = async () => {
    const client = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 1_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("select 1");
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  };
  const exited = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
    });

  const instance: PostgresInstance = {
    port,
    dataDir,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`create database "${name.replace(/"/g, "")}"`);
      } finally {
        await client.end();
      }
      await migrateToLatest(url(name));
      return url(name);
    },
    async start() {
      const args = ["-D", dataDir, "-p", String(port)];
      for (const [key, value] of Object.entries(settings)) args.push("-c", `${key}=${value}`);
      child = spawn(join(bin, "postgres"), args, {
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
        ...(user ?? {}),
      });
      child.stdout?.on("data", (d: Buffer) => {
        output += d.toString();
      });
      child.stderr?.on("data", (d: Buffer) => {
        output += d.toString();
      });
      running.add(instance);
      await until(`PostgreSQL on port ${port}\n${output}`, accepts, 30_000);
    },
    async stop(mode = "fast") {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const done = exited();
      child.kill(mode === "fast" ? "SIGINT" : "SIGQUIT");
      await done;
    },
    async kill() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const done = exited();
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
      await done;
      // Backends of a killed postmaster notice within a moment and exit; the next start needs them gone.
      await until(
        "the killed server's backends to exit",
        async () => {
          try {
            process.kill(-(child?.pid as number), 0);
            return false;
          } catch {
            return true;
          }
        },
        10_000,
      );
    },
    async restart(mode = "fast") {
      await instance.stop(mode);
      await instance.start();
    },
    async terminateBackends(applicationName) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(
          `select count(*) filter (where pg_terminate_backend(pid)) as n from pg_stat_activity
            where pid <> pg_backend_pid() and backend_type = 'client backend'
              and ($1::text is null or application_name = $1)`,
          [applicationName ?? null],
        );
        return Number(rows[0]?.n ?? 0);
      } finally {
        await client.end();
      }
    },
    async close() {
      running.delete(instance);
      await instance.stop("immediate").catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
    log: () => output,
  };
  endWithProcess();
  await instance.start();
  return instance;
}

export interface RedisInstance {
  port: number;
  url: string;
  /** Starts the server (again) on the same port; waits until it answers PING. */
  start(): Promise<void>;
  /** Stops the server without saving (SHUTDOWN NOSAVE): with `persist: false` every key is gone on start. */
  stop(): Promise<void>;
  /** SIGKILL. */
  kill(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers, as a frozen or partitioned server. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** FLUSHALL. */
  flushAll(): Promise<void>;
  /** A CONFIG SET on the running server. */
  configSet(key: string, value: string): Promise<void>;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

/**
 * A Redis of a test's own. `persist: true` keeps an append-only file, so a restart keeps the keys
 * (the bundled compose Redis); the default forgets everything on restart, as a Redis without
 * persistence (or a failover to an empty replica) does.
 */
export async function startRedis(
  options: { persist?: boolean; config?: Record<string, string> } = {},
): Promise<RedisInstance> {
  const root = mkdtempSync(join(tmpdir(), "finanzas-redis-"));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const config: Record<string, string> = {
    save: '""',
    appendonly: options.persist ? "yes" : "no",
    "maxmemory-policy": "noeviction",
    ...options.config,
  };
  const command = async (...args: string[]) => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      return await client.call(args[0] as string, ...args.slice(1));
    } finally {
      client.disconnect();
    }
  };
  const alive = () => !!child && child.exitCode === null && child.signalCode === null;
  const exited = () =>
    new Promise<void>((resolve) => {
      if (!alive()) return resolve();
      child?.once("exit", () => resolve());
    });
  const instance: RedisInstance = {
    port,
    url,
    async start() {
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", root];
      for (const [key, value] of Object.entries(config)) args.push(`--${key}`, value === '""' ? "" : value);
      child = spawn("redis-server", args, { stdio: "ignore", detached: true });
      running.add(instance);
      await until(`Redis on port ${port}`, async () => (await command("PING")) === "PONG", 15_000);
    },
    async stop() {
      if (!alive()) return;
      const done = exited();
      child?.kill("SIGCONT");
      await command("SHUTDOWN", "NOSAVE").catch(() => {});
      await done;
    },
    async kill() {
      if (!alive()) return;
      const done = exited();
      child?.kill("SIGKILL");
      await done;
    },
    async restart() {
      await instance.stop();
      await instance.start();
    },
    freeze() {
      child?.kill("SIGSTOP");
    },
    thaw() {
      child?.kill("SIGCONT");
    },
    async flushAll() {
      await command("FLUSHALL");
    },
    async configSet(key, value) {
      await command("CONFIG", "SET", key, value);
    },
    async close() {
      running.delete(instance);
      await instance.kill();
      rmSync(root, { recursive: true, force: true });
    },
  };
  endWithProcess();
  await instance.start();
  return instance;
}

/** Instances still running; they are killed when the test process exits. */
const running = new Set<PostgresInstance | RedisInstance>();
let registered = false;
function endWithProcess(): void {
  if (registered) return;
  registered = true;
  process.once("exit", () => {
    for (const instance of running) {
      if ("dataDir" in instance) {
        // Synchronous on exit: SIGQUIT the postmaster's group through its pid file.
        try {
          const pid = Number(
            execFileSync("head", ["-1", join(instance.dataDir, "postmaster.pid")], {
              encoding: "utf8",
            }).trim(),
          );
          if (pid) process.kill(-pid, "SIGKILL");
        } catch {
          // already gone
        }
      } else {
        try {
          execFileSync("redis-cli", ["-p", String(instance.port), "shutdown", "nosave"], { stdio: "ignore" });
        } catch {
          // already gone
        }
      }
    }
  });
}
