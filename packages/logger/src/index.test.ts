import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactUrl } from "./index.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("binds service and version and writes JSON lines", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: "etl-worker", version: "1.2.3", destination });
    logger.info({ jobId: "7" }, "job started");
    expect(lines[0]).toMatchObject({ service: "etl-worker", version: "1.2.3", level: "info", jobId: "7" });
    expect(lines[0]?.msg).toBe("job started");
  });

  it("redacts secrets at any of the first three levels", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: "mailer", version: "1", destination });
    logger.info(
      { password: "p1", smtp: { pass: "p2" }, config: { odoo: { apiKey: "p3" } }, user: "ana" },
      "x",
    );
    const text = JSON.stringify(lines[0]);
    expect(text).not.toMatch(/p1|p2|p3/);
    expect(text).toContain("ana");
    expect(text).toContain("[redacted]");
  });

  it("redacts S3 credentials, as variables and as the SDK's credentials object", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: "report-worker", version: "1", destination });
    logger.info(
      {
        config: {
          S3_BUCKET: "finanzas-reports",
          S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
          S3_SECRET_ACCESS_KEY: "s3-secret",
        },
        credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "s3-secret", sessionToken: "s3-token" },
      },
      "storage",
    );
    const text = JSON.stringify(lines[0]);
    expect(text).not.toMatch(/AKIAEXAMPLE|s3-secret|s3-token/);
    expect(text).toContain("finanzas-reports");
  });
});

describe("redactUrl", () => {
  it("hides the password of a connection URL and keeps the rest", () => {
    expect(redactUrl("postgres://app:s3cr3t@db.example.com:6543/postgres?sslmode=require")).toBe(
      "postgres://app:***@db.example.com:6543/postgres?sslmode=require",
    );
    expect(redactUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
  });
});
