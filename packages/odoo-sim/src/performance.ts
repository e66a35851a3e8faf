/**
 * What a real server's answers cost: Odoo's prefork server runs a fixed number of worker processes,
 * each serving one request at a time; requests beyond them wait in the listen queue, and each takes
 * the ORM's time, a fixed part plus a part per record read (0.3–2 s for a page of 1 000 journal items
 * on real servers). The simulator holds a "worker" for that long before it answers, so tests and
 * benchmarks can reproduce a slow, busy Odoo, and it counts the requests in flight at once, the way
 * a server's access log would show a client's concurrency.
 */

export interface Performance {
  /** Fixed time of every RPC request, ms (default 0: answers at once). */
  latencyMs: number;
  /** Time per record a `search_read` or `read` returns, ms (default 0). */
  perRecordMs: number;
  /** Requests served at once; the rest wait in line (default 0: no limit). */
  workers: number;
  /**
   * Requests that may wait for a worker; one more is refused at once with `refuseStatus`, as a proxy
   * or a server at its connection limit does (default: unlimited).
   */
  queueLimit: number;
  /** The status of a refused request: 503 (a proxy's "service unavailable") or 429 (rate limited). */
  refuseStatus: 429 | 503;
}

export const DEFAULT_PERFORMANCE: Performance = {
  latencyMs: 0,
  perRecordMs: 0,
  workers: 0,
  queueLimit: Number.POSITIVE_INFINITY,
  refuseStatus: 503,
};

/** Checks and merges a partial setting (from the CLI, the control API or the options). */
export function mergePerformance(current: Performance, patch: Partial<Record<keyof Performance, unknown>>) {
  const out: Performance = { ...current };
  const number = (name: keyof Performance, value: unknown, integer: boolean): number => {
    const n = value === null ? Number.POSITIVE_INFINITY : Number(value);
    if (!(n >= 0) || (integer && Number.isFinite(n) && !Number.isInteger(n)))
      throw new Error(
        `${name} must be ${integer ? "an integer" : "a number"} ≥ 0, got ${JSON.stringify(value)}`,
      );
    return n;
  };
  if (patch.latencyMs !== undefined) out.latencyMs = number("latencyMs", patch.latencyMs, false);
  if (patch.perRecordMs !== undefined) out.perRecordMs = number("perRecordMs", patch.perRecordMs, false);
  if (patch.workers !== undefined) out.workers = number("workers", patch.workers, true);
  if (patch.queueLimit !== undefined) out.queueLimit = number("queueLimit", patch.queueLimit, true);
  if (patch.refuseStatus !== undefined) {
    const status = Number(patch.refuseStatus);
    if (status !== 429 && status !== 503)
      throw new Error(`refuseStatus must be 429 or 503, got ${JSON.stringify(patch.refuseStatus)}`);
    out.refuseStatus = status;
  }
  return out;
}

/** Requests in flight, busy workers, queued requests: now and at their peak since the last reset. */
export interface Concurrency {
  /** RPC requests received and not yet answered (waiting for a worker included). */
  inFlight: number;
  peakInFlight: number;
  /** Requests a worker is serving. */
  busy: number;
  peakBusy: number;
  /** Requests waiting for a worker. */
  queued: number;
  peakQueued: number;
  /** Requests refused because the queue was full. */
  refused: number;
  /** Worker time spent serving requests, ms, summed over workers: busyMs ÷ (workers × wall time) is their use. */
  busyMs: number;
}

export const emptyConcurrency = (): Concurrency => ({
  inFlight: 0,
  peakInFlight: 0,
  busy: 0,
  peakBusy: 0,
  queued: 0,
  peakQueued: 0,
  refused: 0,
  busyMs: 0,
});

/** The server's workers: a FIFO line of requests in front of `workers` slots. */
export class WorkerPool {
  private readonly waiting: (() => void)[] = [];
  /** When each busy worker was taken (in taking order; only their sum matters). */
  private readonly since: number[] = [];
  constructor(
    private readonly settings: () => Performance,
    private readonly counts: () => Concurrency,
  ) {}

  /** A request arrives (counted in flight until `left`). */
  arrived(): void {
    const c = this.counts();
    c.inFlight++;
    c.peakInFlight = Math.max(c.peakInFlight, c.inFlight);
  }

  left(): void {
    this.counts().inFlight--;
  }

  /**
   * Waits for a worker; false when the line is full (the request is refused and holds nothing).
   * Call `release` once the answer is ready.
   */
  async acquire(): Promise<boolean> {
    const { workers, queueLimit } = this.settings();
    const c = this.counts();
    if (workers === 0 || (c.busy < workers && this.waiting.length === 0)) {
      this.take();
      return true;
    }
    if (this.waiting.length >= queueLimit) {
      c.refused++;
      return false;
    }
    c.queued++;
    c.peakQueued = Math.max(c.peakQueued, c.queued);
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return true;
  }

  release(): void {
    const c = this.counts();
    c.busy--;
    c.busyMs += performance.now() - (this.since.shift() ?? performance.now());
    this.pump();
  }

  /** Hands free workers to the requests in line (after a release, or when workers were added). */
  pump(): void {
    const { workers } = this.settings();
    const c = this.counts();
    while (this.waiting.length > 0 && (workers === 0 || c.busy < workers)) {
      const next = this.waiting.shift() as () => void;
      c.queued--;
      this.take();
      next();
    }
  }

  private take(): void {
    const c = this.counts();
    this.since.push(performance.now());
    c.busy++;
    c.peakBusy = Math.max(c.peakBusy, c.busy);
  }
}

/** How long a worker is held for an answer of `records` records. */
export const serviceTimeMs = (p: Performance, records: number): number =>
  p.latencyMs + p.perRecordMs * records;
