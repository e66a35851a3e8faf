/** How the engine overlaps its work: models side by side, and within a model, reading with writing. */

/** Runs `fn` over `items`, at most `limit` at once. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/**
 * A promise whose rejection is awaited later: marked handled now, so a failure that arrives while
 * the caller is still busy with something else (an abort at shutdown, a dropped connection) is not
 * an unhandled rejection that ends the process. Awaiting it still throws.
 */
export function later<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * The pipeline: fetch the first page, then repeatedly start fetching the next page before writing
 * the current one (backpressure: never more than one page ahead).
 */
export async function pipeline<P>(
  first: () => Promise<P>,
  nextOf: (page: P) => (() => Promise<P>) | null,
  write: (page: P) => Promise<void>,
): Promise<void> {
  let pending: Promise<P> | null = later(first());
  while (pending) {
    const page: P = await pending;
    const fetchNext = nextOf(page);
    // The prefetch may fail while the page is written (the job aborted at shutdown): it is awaited
    // next round, or abandoned when the write fails (the write's error wins).
    pending = fetchNext ? later(fetchNext()) : null;
    await write(page);
  }
}
