import { randomBytes } from "node:crypto";

/** Secrets of this run's own: production refuses any written in the repository. */
export const freshSecret = (): string => randomBytes(48).toString("base64");

/**
 * Logs in as the first admin the web-api created from ADMIN_PASSWORD and, as production requires
 * before anything else, replaces that password; returns the access token of the new session.
 */
export async function signInAsFirstAdmin(baseUrl: string, email: string, password: string): Promise<string> {
  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { accessToken: string; user: { mustChangePassword: boolean } };
  };
  const login = await post("/auth/login", { email, password });
  if (!login.user.mustChangePassword) return login.accessToken;
  const changed = await post(
    "/auth/password",
    { currentPassword: password, newPassword: randomBytes(18).toString("base64") },
    login.accessToken,
  );
  return changed.accessToken;
}
