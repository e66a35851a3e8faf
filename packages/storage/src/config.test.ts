import { resolve } from "node:path";
import { ConfigError, commonEnv, parseEnv, Type } from "@finanzas/config";
import { describe, expect, it } from "vitest";
import { createStorage, storageConfigProblems, storageEnv } from "./config.js";
import type { FilesystemStorage } from "./filesystem.js";
import type { S3Storage } from "./s3.js";

const schema = Type.Object({ ...commonEnv, ...storageEnv });
const parse = (source: Record<string, string>) => parseEnv("report-worker", schema, source);

describe("storageEnv", () => {
  it("keeps files in ./var/reports by default", () => {
    const config = parse({});
    expect(config.REPORTS_DIR).toBe("./var/reports");
    expect(config.S3_REGION).toBe("us-east-1");
    expect(storageConfigProblems(config)).toEqual([]);
    const storage = createStorage(config) as FilesystemStorage;
    expect(storage.kind).toBe("filesystem");
    expect(storage.dir).toBe(resolve("var/reports"));
  });

  it("chooses S3 when S3_BUCKET is set, path-style by default only with S3_ENDPOINT", async () => {
    const credentials = {
      S3_BUCKET: "finanzas-reports",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "key",
    };
    const minio = createStorage(parse({ ...credentials, S3_ENDPOINT: "http://127.0.0.1:9000" })) as S3Storage;
    expect(minio.kind).toBe("s3");
    expect(minio.bucket).toBe("finanzas-reports");
    expect(minio.client.config.forcePathStyle).toBe(true);
    expect((await minio.client.config.endpoint?.())?.hostname).toBe("127.0.0.1");

    const aws = createStorage(parse({ ...credentials, S3_REGION: "eu-west-1" })) as S3Storage;
    expect(aws.client.config.forcePathStyle).toBe(false);
    expect(await aws.client.config.region()).toBe("eu-west-1");

    const virtualHosts = createStorage(
      parse({ ...credentials, S3_ENDPOINT: "https://s3.example.com", S3_FORCE_PATH_STYLE: "false" }),
    ) as S3Storage;
    expect(virtualHosts.client.config.forcePathStyle).toBe(false);
  });

  it("reports S3_BUCKET without its credentials as a configuration problem", () => {
    const config = parse({ S3_BUCKET: "finanzas-reports", S3_SECRET_ACCESS_KEY: "key" });
    expect(storageConfigProblems(config)).toEqual([
      "S3_ACCESS_KEY_ID is required with S3_BUCKET: set it, or unset S3_BUCKET to keep files in REPORTS_DIR",
    ]);
    expect(storageConfigProblems(parse({ S3_BUCKET: "finanzas-reports" }))).toEqual([
      "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required with S3_BUCKET: set both, or unset S3_BUCKET to keep files in REPORTS_DIR",
    ]);
    expect(() => createStorage(config, "report-worker")).toThrow(ConfigError);
    expect(() => createStorage(config, "report-worker")).toThrow(/^report-worker: invalid configuration/);
  });

  it("reports S3 settings without S3_BUCKET, which would leave files on the local disk", () => {
    expect(
      storageConfigProblems(parse({ S3_ENDPOINT: "http://127.0.0.1:9000", S3_SECRET_ACCESS_KEY: "key" })),
    ).toEqual([
      "S3_ENDPOINT, S3_SECRET_ACCESS_KEY are set but S3_BUCKET is not: set S3_BUCKET to store files in S3, or unset them to keep files in REPORTS_DIR",
    ]);
  });

  it("rejects a malformed bucket or endpoint and never echoes the secret", () => {
    let caught: unknown;
    try {
      parse({
        S3_BUCKET: "Finanzas_Reports",
        S3_ENDPOINT: "127.0.0.1:9000",
        S3_FORCE_PATH_STYLE: "sometimes",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toContain(
      `S3_BUCKET: expected a bucket name: 3-63 lowercase letters, digits, '.' or '-', got "Finanzas_Reports"`,
    );
    expect(message).toContain("S3_ENDPOINT: expected the URL of an S3-compatible server");
    expect(message).toContain("S3_FORCE_PATH_STYLE: expected true or false");
  });
});
