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
 * The pipeline: fetch the first page, then repeatedly start fetching the next page before writing
 * the current one (backpressure: never more than one page ahead).
 */
export async function pipeline<P>(
  first: () => Promise<P>,
  nextOf: (page: P) => (() => Promise<P>) | null,
  write: (page: P) => Promise<void>,
): Promise<void> {
  let pending: Promise<P> | null = first();
  while (pending) {
    const page: P = await pending;
    const fetchNext = nextOf(page);
    pending = fetchNext ? fetchNext() : null;
    // Awaited on the next turn; meanwhile its failure (an aborted task drops its requests in
    // flight) must not count as unhandled.
    pending?.catch(() => {});
    try {
      await write(page);
    } catch (error) {
      throw error; // the write's error wins; the prefetch is abandoned
    }
  }
}
