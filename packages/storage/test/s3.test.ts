import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  contentDisposition,
  createS3Storage,
  InvalidKeyError,
  PART_SIZE,
  QUEUE_SIZE,
  type S3Storage,
} from "../src/index.js";
import { makeBytes, readAll, sha256, source } from "./helpers.js";
import { presignedSignatureMatches } from "./sigv4.js";

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
// s3rver's built-in account.
const ACCESS_KEY_ID = "S3RVER";
const SECRET_ACCESS_KEY = "S3RVER";
const BUCKET = "finanzas-reports";

let dir: string;
let server: S3rver;
let endpoint: string;
let storage: S3Storage;
/** Commands the client sent, and the most UploadParts that were in flight at once. */
const sent: string[] = [];
let partsInFlight = 0;
let maxPartsInFlight = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "finanzas-s3rver-"));
  server = new S3rver({ address: "127.0.0.1", port: 0, directory: dir, silent: true });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  storage = createS3Storage({
    endpoint,
    bucket: BUCKET,
    region: "us-east-1",
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    forcePathStyle: true,
  });
  storage.client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? "?";
      sent.push(name);
      if (name !== "UploadPartCommand") return next(args);
      maxPartsInFlight = Math.max(maxPartsInFlight, ++partsInFlight);
      try {
        return await next(args);
      } finally {
        partsInFlight -= 1;
      }
    },
    { step: "initialize", name: "recordCommands" },
  );
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("S3 storage against s3rver", () => {
  it("check() says the bucket is missing, then passes once it exists", async () => {
    await expect(storage.check()).rejects.toThrow(
      `bucket ${BUCKET} does not exist at ${endpoint}: create it, or set S3_BUCKET`,
    );
    await storage.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await expect(storage.check()).resolves.toBeUndefined();
  });

  it("check() says when the server cannot be reached", async () => {
    const closed = createS3Storage({
      endpoint: "http://127.0.0.1:9",
      bucket: BUCKET,
      region: "us-east-1",
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
      forcePathStyle: true,
    });
    await expect(closed.check()).rejects.toThrow(
      /^cannot reach S3 at http:\/\/127\.0\.0\.1:9 \(.*ECONNREFUSED.*\): start it or fix S3_ENDPOINT$/,
    );
  });

  it("streams a body above one part through a multipart upload and gives back exactly its bytes", async () => {
    const bytes = makeBytes(2 * PART_SIZE + 123_457, 5); // three parts
    const key = "reports/2026/12/9f0c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f.xlsx";
    sent.length = 0;
    maxPartsInFlight = 0;

    const result = await storage.put(key, source(bytes, { chunk: 256 * 1024 }), { contentType: XLSX });

    expect(result).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
    expect(sent.filter((c) => c === "UploadPartCommand")).toHaveLength(3);
    expect(sent).toContain("CompleteMultipartUploadCommand");
    expect(maxPartsInFlight).toBeLessThanOrEqual(QUEUE_SIZE);
    const object = await storage.get(key);
    expect(object?.bytes).toBe(bytes.length);
    expect(sha256(await readAll(object!.body))).toBe(sha256(bytes));
  });

  it("stores a small body in one request and an empty one too", async () => {
    const small = makeBytes(70_000, 6);
    expect(await storage.put("reports/small.xlsx", source(small), { contentType: XLSX })).toEqual({
      bytes: small.length,
      sha256: sha256(small),
    });
    expect((await readAll((await storage.get("reports/small.xlsx"))!.body)).equals(small)).toBe(true);
    expect(
      await storage.put("reports/empty.csv", source(Buffer.alloc(0)), { contentType: "text/csv" }),
    ).toEqual({
      bytes: 0,
      sha256: sha256(Buffer.alloc(0)),
    });
    expect((await storage.get("reports/empty.csv"))?.bytes).toBe(0);
  });

  it("presigns a download that a plain fetch gets as an attachment with the asked name and type", async () => {
    const bytes = makeBytes(300_000, 8);
    const key = "reports/2026/12/presigned.xlsx";
    await storage.put(key, source(bytes), { contentType: XLSX });
    const fileName = "Antigüedad de saldos (dic. 2026) – Cía 'Norte'*.xlsx";

    const url = await storage.downloadUrl(key, { fileName, contentType: XLSX, expiresInSeconds: 300 });

    expect(url).toMatch(new RegExp(`^${endpoint}/${BUCKET}/reports/2026/12/presigned\\.xlsx\\?`));
    // s3rver checks expiry and applies the response-* overrides, but not SigV4 signatures: the
    // signature is checked here against the published algorithm instead.
    expect(presignedSignatureMatches(url!, SECRET_ACCESS_KEY)).toBe(true);
    expect(presignedSignatureMatches(url!.replace("Norte", "Sur"), SECRET_ACCESS_KEY)).toBe(false);
    const response = await fetch(url!);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe(contentDisposition(fileName));
    expect(response.headers.get("content-disposition")).toContain(
      "filename*=UTF-8''Antig%C3%BCedad%20de%20saldos%20%28dic.%202026%29%20%E2%80%93%20C%C3%ADa%20%27Norte%27%2A.xlsx",
    );
    expect(response.headers.get("content-type")).toBe(XLSX);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("presigns URLs that stop working once they expire", async () => {
    const key = "reports/2026/12/expiring.xlsx";
    await storage.put(key, source(Buffer.from("short-lived")), { contentType: XLSX });
    // X-Amz-Date has whole seconds: sign at the start of a second so the URL has its full second.
    await sleep(1000 - (Date.now() % 1000) + 20);
    const url = await storage.downloadUrl(key, {
      fileName: "x.xlsx",
      contentType: XLSX,
      expiresInSeconds: 1,
    });
    const fresh = await fetch(url!);
    expect(fresh.status).toBe(200);
    expect(await fresh.text()).toBe("short-lived");

    await sleep(2100);
    const stale = await fetch(url!);
    expect(stale.status).toBe(403);
    expect(await stale.text()).toContain("Request has expired");
  });

  it("deletes (absent is fine), and gets null for a missing key", async () => {
    const key = "reports/2026/12/deleted.xlsx";
    await storage.put(key, source(Buffer.from("gone soon")), { contentType: XLSX });
    expect(await storage.get(key)).not.toBeNull();
    await storage.delete(key);
    expect(await storage.get(key)).toBeNull();
    await storage.delete(key);
    expect(await storage.get("reports/never-written.xlsx")).toBeNull();
  });

  it("leaves no object when the source fails after a part was uploaded", async () => {
    const key = "reports/2026/12/source-failed.xlsx";
    sent.length = 0;
    const bytes = makeBytes(PART_SIZE * 2, 9);

    await expect(
      storage.put(key, source(bytes, { failAfter: PART_SIZE + 500_000 }), { contentType: XLSX }),
    ).rejects.toThrow(/^workbook writer failed after/);

    expect(sent).toContain("UploadPartCommand");
    expect(sent).not.toContain("CompleteMultipartUploadCommand");
    expect(sent).toContain("AbortMultipartUploadCommand"); // S3 discards the uploaded parts
    expect(await storage.get(key)).toBeNull();
  });

  it("leaves no object when the put is aborted, and keeps an older one under the key", async () => {
    const key = "reports/2026/12/aborted.xlsx";
    const older = makeBytes(50_000, 10);
    await storage.put(key, source(older), { contentType: XLSX });
    sent.length = 0;

    const controller = new AbortController();
    const put = storage.put(key, source(makeBytes(PART_SIZE * 3, 11)), {
      contentType: XLSX,
      signal: controller.signal,
    });
    while (!sent.includes("UploadPartCommand")) await sleep(10);
    controller.abort();
    await expect(put).rejects.toMatchObject({ name: "AbortError" });

    // the SDK aborts the multipart upload in the background: give it time on a loaded machine
    await vi.waitFor(() => expect(sent).toContain("AbortMultipartUploadCommand"), {
      timeout: 15_000,
      interval: 50,
    });
    expect(sent).not.toContain("CompleteMultipartUploadCommand");
    expect((await readAll((await storage.get(key))!.body)).equals(older)).toBe(true);
    await storage.delete(key);
    const aborted = storage.put("reports/2026/12/aborted-new.xlsx", source(makeBytes(PART_SIZE * 2, 12)), {
      contentType: XLSX,
      signal: AbortSignal.timeout(50),
    });
    await expect(aborted).rejects.toMatchObject({ name: expect.stringMatching(/AbortError|TimeoutError/) });
    expect(await storage.get("reports/2026/12/aborted-new.xlsx")).toBeNull();
  });

  it("fails a put whose upload fails with the reason, and stops reading its source", async () => {
    const elsewhere = createS3Storage({
      endpoint,
      bucket: "no-such-bucket",
      region: "us-east-1",
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
      forcePathStyle: true,
    });
    const body = source(makeBytes(PART_SIZE * 4, 13));
    await expect(elsewhere.put("reports/x.xlsx", body, { contentType: XLSX })).rejects.toThrow(
      /^cannot store reports\/x\.xlsx in bucket no-such-bucket at http:\/\/127\.0\.0\.1:\d+: .*(NoSuchBucket|does not exist)/,
    );
    expect(body.destroyed).toBe(true);
  });

  it("refuses invalid keys without a request", async () => {
    sent.length = 0;
    await expect(storage.get("../other-bucket/x")).rejects.toThrow(InvalidKeyError);
    await expect(
      storage.downloadUrl("/abs.xlsx", { fileName: "a", contentType: XLSX, expiresInSeconds: 60 }),
    ).rejects.toThrow(InvalidKeyError);
    await expect(storage.put("a\\b", source(Buffer.from("x")), { contentType: XLSX })).rejects.toThrow(
      InvalidKeyError,
    );
    expect(sent).toEqual([]);
  });
});

describe("the SigV4 check used above", () => {
  it("accepts the example presigned URL of the S3 documentation and nothing altered", () => {
    const url =
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
      "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    expect(presignedSignatureMatches(url, secret)).toBe(true);
    expect(presignedSignatureMatches(url.replace("86400", "86401"), secret)).toBe(false);
    expect(presignedSignatureMatches(url, `${secret}x`)).toBe(false);
  });
});
