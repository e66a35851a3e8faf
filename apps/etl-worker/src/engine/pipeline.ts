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
    // The prefetch may fail while the write is still under way (the model's work aborted: its lease
    // lost, the job stopping), with no one awaiting it yet. Marked handled here, or Node would end
    // the process on an unhandled rejection; it is awaited (and throws) on the next turn, unless
    // the write's own error wins.
    pending?.catch(() => {});
    await write(page);
  }
}
