import type { Redis } from "ioredis";

export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = "DeadlineError";
  }
}

/**
 * A Redis call that gives up after `ms`, and at once when the client is not connected: ioredis
 * queues commands while it reconnects, so a call made while Redis is down would otherwise wait for
 * it to come back. The command itself is not cancelled; its late answer is ignored.
 */
export function redisWithin<T>(redis: Redis, ms: number, what: string, call: () => Promise<T>): Promise<T> {
  if (redis.status !== "ready") return Promise.reject(new Error(`${what}: Redis is ${redis.status}`));
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    call().then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
