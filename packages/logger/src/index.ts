import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";

export type { Logger };

/** Keys whose values never reach a log line, at the top level and one or two levels down. */
export const SECRET_KEYS = [
  "password",
  "pass",
  "secret",
  "token",
  "accessToken",
  "refreshToken",
  "apiKey",
  "api_key",
  "authorization",
  "cookie",
  "jwtSecret",
  "JWT_SECRET",
  "ODOO_PASSWORD",
  "SMTP_PASS",
  "ADMIN_PASSWORD",
  "S3_ACCESS_KEY_ID",
  "S3_SECRET_ACCESS_KEY",
  "accessKeyId",
  "secretAccessKey",
  "sessionToken",
] as const;

const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]).concat([
  'req.headers["authorization"]',
  'req.headers["cookie"]',
  'res.headers["set-cookie"]',
]);

/** Replaces the password in a connection URL: postgres://u:secret@h/db → postgres://u:***@h/db. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
  }
}

export interface LoggerConfig {
  service: string;
  version: string;
  level?: string;
  /** Pretty output; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where to write (tests); defaults to stdout. */
  destination?: DestinationStream;
}

export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? "info",
    base: { service: config.service, version: config.version },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const pretty = config.pretty ?? (config.destination === undefined && process.stdout.isTTY === true);
  if (pretty) {
    return pino({
      ...options,
      transport: {
        target: "pino-pretty",
        options: { translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" },
      },
    });
  }
  return config.destination ? pino(options, config.destination) : pino(options);
}
