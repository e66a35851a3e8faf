import { redactUrl } from "@finanzas/logger";

/** A dependency (PostgreSQL, Redis, SMTP, Odoo) that a service cannot work without is unusable. */
export class DependencyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DependencyError";
  }
}

/** The most specific short reason an error carries: a system code (ECONNREFUSED), else its message. */
export function errorReason(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return errorReason(error.errors[0]);
  if (error && typeof error === "object") {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    if (typeof message === "string" && message.length > 0) return message;
  }
  return String(error);
}

/**
 * "cannot reach Redis at redis://127.0.0.1:6390 (ECONNREFUSED): start Redis or set REDIS_URL".
 * The URL's password is never shown.
 */
export function unreachable(
  what: string,
  url: string,
  envVar: string,
  cause: unknown,
  hint?: string,
): DependencyError {
  return new DependencyError(
    `cannot reach ${what} at ${redactUrl(url)} (${errorReason(cause)}): ${hint ?? `start ${what} or set ${envVar}`}`,
    { cause },
  );
}

/** Rejects after `ms` with `message` unless `promise` settles first. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(message), { code: "ETIMEDOUT" })), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
