import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { type AccessClaims, createTokenSigner, InvalidTokenError, type RevocationCheck } from "./tokens.js";

const SECRET = "unit-test-secret-0123456789-abcdefghijklmnop";

/** The in-memory state the signer consults (what auth/revocations.ts keeps per replica). */
function revocationState() {
  const versions = new Map<string, number>();
  const sessions = new Set<string>();
  const check: RevocationCheck = {
    isRevoked: (c: AccessClaims) =>
      (c.version ?? 0) < (versions.get(c.userId) ?? 0) ||
      (c.sessionId !== undefined && sessions.has(c.sessionId)),
    versionOf: (userId) => versions.get(userId) ?? 0,
  };
  return { versions, sessions, check };
}

const alice = { userId: "u-alice", role: "admin", email: "alice@example.com" } as const;

describe("the verified-token memo (the hot path)", () => {
  it("answers synchronously for a verified token, and stops the moment the user is revoked", async () => {
    const state = revocationState();
    const signer = createTokenSigner(SECRET, 900, () => Date.now(), state.check);
    const token = await signer.sign({ ...alice, version: 0, sessionId: "s-1" });
    expect(signer.known(token)).toBeNull(); // never verified yet: the caller must verify
    expect(await signer.verify(token)).toMatchObject({ ...alice, version: 0, sessionId: "s-1" });
    // synchronous: a value, not a promise
    const known = signer.known(token);
    expect(known).not.toBeInstanceOf(Promise);
    expect(known).toMatchObject({ userId: "u-alice", role: "admin" });

    state.versions.set("u-alice", 1);
    expect(signer.known(token)).toBeNull();
    await expect(signer.verify(token)).rejects.toThrow("token revoked: sign in again");
    await expect(signer.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);

    // signed in again, same second: the new token carries the new version and works
    const fresh = await signer.sign({ ...alice, role: "viewer", version: 1, sessionId: "s-2" });
    expect(await signer.verify(fresh)).toMatchObject({ role: "viewer", version: 1 });
    expect(signer.known(fresh)).toMatchObject({ role: "viewer" });
  });

  it("stops a token of a revoked session, not the user's other sessions", async () => {
    const state = revocationState();
    const signer = createTokenSigner(SECRET, 900, () => Date.now(), state.check);
    const laptop = await signer.sign({ ...alice, version: 0, sessionId: "laptop" });
    const phone = await signer.sign({ ...alice, version: 0, sessionId: "phone" });
    await signer.verify(laptop);
    await signer.verify(phone);
    state.sessions.add("laptop");
    expect(signer.known(laptop)).toBeNull();
    await expect(signer.verify(laptop)).rejects.toThrow("token revoked");
    expect(signer.known(phone)).toMatchObject({ userId: "u-alice" });
  });

  it("signs the version this replica knows when the caller gives none", async () => {
    const state = revocationState();
    state.versions.set("u-alice", 3);
    const signer = createTokenSigner(SECRET, 900, () => Date.now(), state.check);
    const token = await signer.sign(alice);
    expect(await signer.verify(token)).toMatchObject({ version: 3 });
  });

  it("treats a token without a version (signed before versions existed) as version 0", async () => {
    const state = revocationState();
    const signer = createTokenSigner(SECRET, 900, () => Date.now(), state.check);
    // as the signer wrote them before `ver` and `sid` existed
    const old = await new SignJWT({ role: "admin", email: alice.email })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(alice.userId)
      .setIssuer("finanzas-web-api")
      .setAudience("finanzas-api")
      .setIssuedAt()
      .setExpirationTime("15m")
      .sign(new TextEncoder().encode(SECRET));
    expect(await signer.verify(old)).toMatchObject({ version: 0 });
    state.versions.set("u-alice", 1);
    await expect(signer.verify(old)).rejects.toThrow("token revoked");
  });
});
