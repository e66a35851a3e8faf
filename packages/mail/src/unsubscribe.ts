import { createHmac, timingSafeEqual } from "node:crypto";
import { apiRoutes } from "@finanzas/contracts";

/*
 * One-click unsubscribe (RFC 8058): the List-Unsubscribe URL carries a token that says, signed
 * with MAIL_UNSUBSCRIBE_SECRET (HMAC-SHA256), "suppress this address" and nothing else. The
 * public endpoint that receives it needs no login and can do nothing but that.
 */

export interface UnsubscribeClaim {
  /** The address to suppress. */
  email: string;
  /** The outbox message it came in (for the suppression's record). */
  messageId: string;
}

const PURPOSE = "finanzas-mail-unsubscribe-v1";

const mac = (secret: string, payload: string) =>
  createHmac("sha256", secret).update(`${PURPOSE}\n${payload}`).digest("base64url");

export function unsubscribeToken(secret: string, claim: UnsubscribeClaim): string {
  const payload = Buffer.from(JSON.stringify({ e: claim.email.toLowerCase(), m: claim.messageId })).toString(
    "base64url",
  );
  return `${payload}.${mac(secret, payload)}`;
}

/** The claim of a token signed with `secret`, or null when it is malformed or its signature is wrong. */
export function verifyUnsubscribeToken(secret: string, token: string): UnsubscribeClaim | null {
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined || token.length > 2_000) return null;
  const expected = Buffer.from(mac(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const claim = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      e?: unknown;
      m?: unknown;
    };
    if (typeof claim.e !== "string" || typeof claim.m !== "string") return null;
    return { email: claim.e, messageId: claim.m };
  } catch {
    return null;
  }
}

/**
 * The URL of the public endpoint for a message: `<base>/api/v1/mail/unsubscribe?token=…`, the path
 * taken from the web-api's route catalog (the route that verifies it).
 */
export function unsubscribeUrl(publicUrl: string, secret: string, claim: UnsubscribeClaim): string {
  return `${publicUrl.replace(/\/+$/, "")}${apiRoutes.unsubscribe.url}?token=${unsubscribeToken(secret, claim)}`;
}
