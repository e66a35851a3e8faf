import { createHash, createHmac } from "node:crypto";

/** RFC 3986 percent-encoding, as SigV4 canonicalizes query names and values. */
const encode = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const hmac = (key: Buffer | string, data: string): Buffer => createHmac("sha256", key).update(data).digest();

/**
 * Recomputes the AWS Signature Version 4 of a presigned S3 URL (query-string authentication, host
 * the only signed header) from the URL as a client sends it, following the published algorithm,
 * and tells whether X-Amz-Signature matches. Independent of the AWS SDK that made the URL.
 */
export function presignedSignatureMatches(url: string, secretAccessKey: string): boolean {
  const parsed = new URL(url);
  const query = [...parsed.searchParams.entries()];
  const provided = parsed.searchParams.get("X-Amz-Signature");
  const date = parsed.searchParams.get("X-Amz-Date");
  const credential = parsed.searchParams.get("X-Amz-Credential");
  if (parsed.searchParams.get("X-Amz-SignedHeaders") !== "host" || !provided || !date || !credential) {
    return false;
  }
  const scope = credential.split("/").slice(1).join("/");
  const [day, region, service] = scope.split("/") as [string, string, string];
  const canonicalQuery = query
    .filter(([name]) => name !== "X-Amz-Signature")
    .map(([name, value]) => `${encode(name)}=${encode(value)}`)
    .sort()
    .join("&");
  const canonicalRequest = [
    "GET",
    parsed.pathname,
    canonicalQuery,
    `host:${parsed.host}\n`,
    "host",
    parsed.searchParams.get("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD",
  ].join("\n");
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    date,
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  let key = hmac(`AWS4${secretAccessKey}`, day);
  for (const part of [region, service, "aws4_request"]) key = hmac(key, part);
  return createHmac("sha256", key).update(stringToSign).digest("hex") === provided;
}
