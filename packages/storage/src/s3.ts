import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Digest } from "./digest.js";
import {
  contentDisposition,
  type DownloadUrlOptions,
  type PutOptions,
  type PutResult,
  type Storage,
  type StoredObject,
  validateExpiry,
  validateKey,
} from "./storage.js";

/** Multipart part size: S3 needs at least 5 MiB per part but the last. */
export const PART_SIZE = 8 * 1024 * 1024;
/** Parts uploaded at once; a put holds at most (QUEUE_SIZE + 1) × PART_SIZE of body in memory. */
export const QUEUE_SIZE = 2;

export interface S3StorageOptions {
  /** An S3-compatible server (MinIO, Ceph, R2…); AWS S3 when absent. */
  endpoint?: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `http://host/bucket/key` rather than `http://bucket.host/key`; what most S3-compatible servers want. */
  forcePathStyle: boolean;
  /** Milliseconds to open a connection before giving up (default 5 000). */
  connectTimeoutMs?: number;
}

export interface S3Storage extends Storage {
  readonly kind: "s3";
  readonly bucket: string;
  /** The underlying client (tests create the bucket with it). */
  readonly client: S3Client;
}

interface AwsError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const status = (error: unknown): number | undefined => (error as AwsError)?.$metadata?.httpStatusCode;

const isMissing = (error: unknown): boolean =>
  status(error) === 404 || ["NoSuchKey", "NotFound"].includes((error as AwsError)?.name ?? "");

/**
 * Objects in one bucket of S3 or an S3-compatible server. Puts stream through a multipart upload
 * (parts of PART_SIZE, QUEUE_SIZE at once) that S3 publishes only when it completes; a failed or
 * aborted put aborts the multipart upload, so nothing appears under the key.
 */
export function createS3Storage(options: S3StorageOptions): S3Storage {
  const where = options.endpoint ?? `AWS S3 (region ${options.region})`;
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 5_000 },
  };
  if (options.endpoint) {
    config.endpoint = options.endpoint;
    // Newer SDKs add CRC32 checksums to every upload by default; S3-compatible servers that predate
    // them reject or mangle such requests. SigV4 already signs each part's SHA-256.
    config.requestChecksumCalculation = "WHEN_REQUIRED";
    config.responseChecksumValidation = "WHEN_REQUIRED";
  }
  const client = new S3Client(config);
  const { bucket } = options;

  return {
    kind: "s3",
    bucket,
    client,

    async put(key: string, body: Readable, opts: PutOptions): Promise<PutResult> {
      validateKey(key);
      const digest = new Digest();
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: digest, ContentType: opts.contentType },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      const abort = () => void upload.abort();
      opts.signal?.addEventListener("abort", abort, { once: true });
      try {
        // Reading the body and uploading run together: a failing source ends the upload (the
        // Upload reads `digest`, which the pipeline destroys), a failing upload ends the source.
        // Whichever failed first is the cause; the other only saw its effect.
        let firstFailure: "source" | "upload" | undefined;
        const [read, sent] = await Promise.allSettled([
          pipeline(body, digest, { signal: opts.signal }).catch((error: unknown) => {
            firstFailure ??= "source";
            throw error;
          }),
          upload.done().catch((error: unknown) => {
            firstFailure ??= "upload";
            digest.destroy(error as Error);
            throw error;
          }),
        ]);
        if (read.status === "fulfilled" && sent.status === "fulfilled") return digest.result();
        // An abort is the caller's AbortError (as from the filesystem backend), not an upload failure.
        if (opts.signal?.aborted) throw read.status === "rejected" ? read.reason : abortError(opts.signal);
        if (read.status === "rejected" && (firstFailure === "source" || sent.status === "fulfilled")) {
          throw read.reason;
        }
        const reason = sent.status === "rejected" ? sent.reason : undefined;
        throw new Error(`cannot store ${key} in bucket ${bucket} at ${where}: ${message(reason)}`, {
          cause: reason,
        });
      } finally {
        opts.signal?.removeEventListener("abort", abort);
      }
    },

    async get(key: string): Promise<StoredObject | null> {
      validateKey(key);
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return { body: response.Body as Readable, bytes: response.ContentLength ?? 0 };
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
    },

    async delete(key: string): Promise<void> {
      validateKey(key);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    },

    async downloadUrl(key: string, opts: DownloadUrlOptions): Promise<string | null> {
      validateKey(key);
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ResponseContentDisposition: contentDisposition(opts.fileName),
        ResponseContentType: opts.contentType,
      });
      return getSignedUrl(client, command, { expiresIn: validateExpiry(opts.expiresInSeconds) });
    },

    async check(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }), {
          abortSignal: AbortSignal.timeout(10_000),
        });
      } catch (error) {
        throw new Error(checkFailure(error, bucket, where, options.region), { cause: error });
      }
    },
  };
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error("The operation was aborted"), {
    name: "AbortError",
    code: "ABORT_ERR",
    cause: signal.reason,
  });
}

function message(error: unknown): string {
  const e = error as AwsError;
  const code = e?.code ?? (e?.name && e.name !== "Error" ? e.name : undefined);
  return `${e?.message || "unknown error"}${code && !e?.message?.includes(code) ? ` (${code})` : ""}`;
}

/** What HeadBucket's failure means for whoever configures the service. */
function checkFailure(error: unknown, bucket: string, where: string, region: string): string {
  const code = status(error);
  const e = error as AwsError;
  if (code === 404) return `bucket ${bucket} does not exist at ${where}: create it, or set S3_BUCKET`;
  if (code === 403 || code === 401) {
    return (
      `access to bucket ${bucket} at ${where} is denied (HTTP ${code}): check S3_ACCESS_KEY_ID and ` +
      "S3_SECRET_ACCESS_KEY, and that the key may read and write the bucket"
    );
  }
  if (code === 301 || code === 400) {
    return `bucket ${bucket} at ${where} answered HTTP ${code}: check S3_REGION (now ${region}) and S3_FORCE_PATH_STYLE`;
  }
  if (code !== undefined) return `bucket ${bucket} at ${where} answered HTTP ${code}: ${message(error)}`;
  const name = e?.name === "TimeoutError" || e?.name === "AbortError" ? "timed out" : message(error);
  return `cannot reach S3 at ${where} (${name}): start it or fix S3_ENDPOINT`;
}
