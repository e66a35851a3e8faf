import { ConfigError, env, type Static, Type } from "@finanzas/config";
import { createFilesystemStorage } from "./filesystem.js";
import { createS3Storage } from "./s3.js";
import type { Storage } from "./storage.js";

/** The storage variables; spread into a service's schema like `commonEnv`. */
export const storageEnv = {
  REPORTS_DIR: env.string({
    default: "./var/reports",
    description:
      "a directory for generated files (shared by every replica), relative to the working directory or absolute",
  }),
  S3_ENDPOINT: env.optional(
    env.url(["http", "https"], {
      description: "the URL of an S3-compatible server, e.g. http://127.0.0.1:9000 (unset: AWS S3)",
    }),
  ),
  S3_BUCKET: env.optional(
    Type.String({
      pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
      description: "a bucket name: 3-63 lowercase letters, digits, '.' or '-'",
    }),
  ),
  S3_REGION: env.string({ default: "us-east-1", description: "an S3 region, e.g. eu-west-1" }),
  S3_ACCESS_KEY_ID: env.optional(env.string({ description: "the access key id for S3_BUCKET" })),
  S3_SECRET_ACCESS_KEY: env.optional(
    env.secret({ description: "the secret access key of S3_ACCESS_KEY_ID" }),
  ),
  S3_FORCE_PATH_STYLE: env.optional(env.bool()),
};

export const storageEnvSchema = Type.Object(storageEnv);
export type StorageConfig = Static<typeof storageEnvSchema>;

const S3_COMPANIONS = [
  "S3_ENDPOINT",
  "S3_ACCESS_KEY_ID",
  "S3_SECRET_ACCESS_KEY",
  "S3_FORCE_PATH_STYLE",
] as const;

/**
 * The checks that span the storage variables, for a service's config check to report with its own:
 * S3 is chosen by S3_BUCKET, which needs both credentials; S3 settings without S3_BUCKET would
 * silently leave files in REPORTS_DIR, so they are a problem too.
 */
export function storageConfigProblems(config: StorageConfig): string[] {
  if (config.S3_BUCKET !== undefined) {
    const missing = (["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] as const).filter(
      (k) => config[k] === undefined,
    );
    if (missing.length === 0) return [];
    return [
      `${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} required with S3_BUCKET: set ${missing.length === 1 ? "it" : "both"}, or unset S3_BUCKET to keep files in REPORTS_DIR`,
    ];
  }
  const stray = S3_COMPANIONS.filter((k) => config[k] !== undefined);
  if (stray.length === 0) return [];
  return [
    `${stray.join(", ")} ${stray.length === 1 ? "is" : "are"} set but S3_BUCKET is not: set S3_BUCKET to store files in S3, or unset ${stray.length === 1 ? "it" : "them"} to keep files in REPORTS_DIR`,
  ];
}

/** The backend the configuration chooses: S3 when S3_BUCKET is set, the REPORTS_DIR directory otherwise. */
export function createStorage(config: StorageConfig, service = "storage"): Storage {
  const problems = storageConfigProblems(config);
  if (problems.length) throw new ConfigError(service, problems);
  if (config.S3_BUCKET === undefined) return createFilesystemStorage({ dir: config.REPORTS_DIR });
  return createS3Storage({
    endpoint: config.S3_ENDPOINT,
    bucket: config.S3_BUCKET,
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID!,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY!,
    forcePathStyle: config.S3_FORCE_PATH_STYLE ?? config.S3_ENDPOINT !== undefined,
  });
}
