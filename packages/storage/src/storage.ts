import type { Readable } from "node:stream";

export interface PutOptions {
  /** The MIME type stored with the object (S3) and sent with its downloads. */
  contentType: string;
  /** Aborting it stops the put; nothing is left under the key. */
  signal?: AbortSignal;
}

export interface PutResult {
  /** Bytes read from the body and stored. */
  bytes: number;
  /** Hex SHA-256 of those bytes, computed while streaming. */
  sha256: string;
}

export interface StoredObject {
  /** The object's bytes; read it to the end or destroy it, or its file or connection stays open. */
  body: Readable;
  bytes: number;
}

export interface DownloadUrlOptions {
  /** The name the browser saves the file as (any Unicode; sent with an ASCII fallback). */
  fileName: string;
  contentType: string;
  /** How long the URL works, in whole seconds (1 to 604 800, S3's limit of 7 days). */
  expiresInSeconds: number;
}

/** Files by key, shared by every replica of every service that is configured alike. */
export interface Storage {
  readonly kind: "filesystem" | "s3";
  /**
   * Streams `body` under `key`. The object becomes visible only once complete; a put that fails or
   * is aborted leaves the key as it was (absent stays absent, an older object stays).
   */
  put(key: string, body: Readable, opts: PutOptions): Promise<PutResult>;
  /** The object, or null when there is none under `key`. */
  get(key: string): Promise<StoredObject | null>;
  /** Removes the object; an absent key is fine. */
  delete(key: string): Promise<void>;
  /**
   * A URL that downloads the object directly, as an attachment named `fileName` (S3: presigned
   * GET). null for the filesystem backend: the API streams the file itself (`get`).
   */
  downloadUrl(key: string, opts: DownloadUrlOptions): Promise<string | null>;
  /** Readiness: resolves when the storage can be used, throws an error that says what to fix. */
  check(): Promise<void>;
}

/** A key that is not a plain relative path; thrown before anything is read or written. */
export class InvalidKeyError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(
      `invalid storage key ${JSON.stringify(key)}: ${reason} (expected a relative path such as ` +
        `"reports/2026/12/<uuid>.xlsx": segments of A-Z a-z 0-9 . _ - separated by single "/", none starting with ".")`,
    );
    this.name = "InvalidKeyError";
  }
}

const KEY_CHARS = /^[A-Za-z0-9._/-]+$/;
export const MAX_KEY_LENGTH = 1024;

/**
 * Checks that `key` is a relative path of safe segments: letters, digits, `.`, `_`, `-`, joined by
 * single `/`; no absolute path, no backslash, no `.` or `..` segment, and no segment starting with
 * `.` (names the filesystem backend keeps for its temporary files). Returns the key.
 */
export function validateKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) throw new InvalidKeyError(String(key), "it is empty");
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(key, `it is longer than ${MAX_KEY_LENGTH}`);
  if (key.includes("\\")) throw new InvalidKeyError(key, "it contains a backslash");
  if (key.startsWith("/")) throw new InvalidKeyError(key, "it is an absolute path");
  if (!KEY_CHARS.test(key)) {
    const bad = [...key].find((c) => !KEY_CHARS.test(c)) ?? "";
    throw new InvalidKeyError(key, `it contains ${JSON.stringify(bad)}`);
  }
  for (const segment of key.split("/")) {
    if (segment === "") throw new InvalidKeyError(key, "it has an empty segment (a trailing or double /)");
    if (segment === "..") throw new InvalidKeyError(key, 'it has a ".." segment');
    if (segment.startsWith("."))
      throw new InvalidKeyError(key, `segment ${JSON.stringify(segment)} starts with "."`);
  }
  return key;
}

/** The largest expiry S3 accepts for a presigned URL (7 days). */
export const MAX_URL_EXPIRY_SECONDS = 604_800;

export function validateExpiry(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_URL_EXPIRY_SECONDS) {
    throw new RangeError(
      `expiresInSeconds must be a whole number from 1 to ${MAX_URL_EXPIRY_SECONDS}, got ${seconds}`,
    );
  }
  return seconds;
}

/** RFC 8187 value-chars: everything but ALPHA / DIGIT / "!#$&+-.^_`|~" is percent-encoded. */
const encodeRfc8187 = (value: string): string =>
  encodeURIComponent(value).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );

/**
 * The Content-Disposition header that makes a browser save the response as `fileName` (RFC 6266):
 * `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded UTF-8>`. Control
 * characters and path separators become "_" in both; the fallback also drops accents and turns other
 * non-ASCII characters, quotes and "%" into "_".
 */
export function contentDisposition(fileName: string): string {
  const name = fileName.replace(/[\p{Cc}/\\]/gu, "_").trim() || "download";
  const fallback = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^\x20-\x7e]|["%]/g, "_");
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeRfc8187(name)}`;
}
