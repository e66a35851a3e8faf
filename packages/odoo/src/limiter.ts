/**
 * How many requests a client keeps in flight at once, and how that number follows the server.
 *
 * `SharedLimiter` is a counting semaphore in shared memory: clients on several threads (the ETL's
 * reader threads and its main thread) that are given the same limiter (`attach` its `buffer` on the
 * other thread) never have more requests in flight together than its limit. The limit can move
 * between 1 and the maximum at any time; requests start in order of arrival.
 *
 * `AdaptiveConcurrency` moves it. It hears every answer's time (HTTP only, not the wait for a
 * slot) and lowers the limit when answers slow down against the best recently seen for the same
 * call and size of answer (a server whose workers are all busy queues requests, so answers take
 * longer as more are sent), or at once by half when the server refuses (429, 503, connections
 * refused or reset); it raises it again by one each round of answers that come back at their usual
 * speed while the limit is reached (a limit nobody reaches says nothing about a higher one).
 */

/** A limit on requests in flight; `acquire` before sending, `release` once the answer is in. */
export interface RequestLimiter {
  acquire(): Promise<void>;
  release(): void;
}

/** One answer (or failure) as the HTTP layer saw it. */
export interface AnswerSample {
  /** `model.method` of the call. */
  call: string;
  /** From sending the request to the last byte of the answer (or the failure). */
  ms: number;
  /** Bytes of the answer's body (0 on a failure without one). */
  bytes: number;
  /** HTTP status, when there was an answer. */
  status?: number | undefined;
  /** Node's error code, when the request failed without an answer (ECONNREFUSED, ECONNRESET, …). */
  code?: string | undefined;
}

const TICKET = 0;
const RELEASED = 1;
const LIMIT = 2;
const MAX = 3;
const IN_FLIGHT = 4;
const CELLS = 5;

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<"ok" | "timed-out"> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/**
 * A ticket semaphore: each request takes the next ticket and goes once fewer than `limit` tickets
 * before it are still unreleased, so requests start strictly in order of arrival on every thread (a
 * stream that has just released a slot cannot take it back ahead of one waiting). A thread that dies
 * holding a slot, or waiting for one, takes that slot with it.
 */
export class SharedLimiter implements RequestLimiter {
  private readonly cells: Int32Array;

  /** A limiter of `max` requests at once (the limit starts at the maximum). */
  static create(max: number): SharedLimiter {
    const limiter = new SharedLimiter(new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT));
    const m = Math.max(1, Math.floor(max));
    Atomics.store(limiter.cells, MAX, m);
    Atomics.store(limiter.cells, LIMIT, m);
    return limiter;
  }

  /** The same limiter on another thread, from its `buffer`. */
  static attach(buffer: SharedArrayBuffer): SharedLimiter {
    return new SharedLimiter(buffer);
  }

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
  }

  get max(): number {
    return Atomics.load(this.cells, MAX);
  }

  get limit(): number {
    return Atomics.load(this.cells, LIMIT);
  }

  /** Requests holding a slot now. */
  get inFlight(): number {
    return Atomics.load(this.cells, IN_FLIGHT);
  }

  /** Sets the limit (kept between 1 and the maximum); returns it. Requests in flight finish. */
  setLimit(limit: number): number {
    const next = Math.min(this.max, Math.max(1, Math.round(limit)));
    const previous = Atomics.exchange(this.cells, LIMIT, next);
    if (next > previous) Atomics.notify(this.cells, RELEASED); // room for more: every waiter looks again
    return next;
  }

  async acquire(): Promise<void> {
    const ticket = Atomics.add(this.cells, TICKET, 1);
    for (;;) {
      const released = Atomics.load(this.cells, RELEASED);
      // Tickets ahead of this one not yet released (modulo 2³², so the counters may wrap).
      if (((ticket - released) | 0) < Atomics.load(this.cells, LIMIT)) {
        Atomics.add(this.cells, IN_FLIGHT, 1);
        return;
      }
      // Sleeps until a release (or a raised limit's wake-up).
      const wait = waitAsync(this.cells, RELEASED, released);
      if (wait.async) await wait.value;
    }
  }

  release(): void {
    Atomics.sub(this.cells, IN_FLIGHT, 1);
    Atomics.add(this.cells, RELEASED, 1);
    Atomics.notify(this.cells, RELEASED);
  }
}

/** Answers that mean "too much": the server (or its proxy) refuses work rather than doing it slowly. */
export function isRefusal(sample: Pick<AnswerSample, "status" | "code">): boolean {
  return (
    sample.status === 429 ||
    sample.status === 503 ||
    sample.code === "ECONNREFUSED" ||
    sample.code === "ECONNRESET" ||
    sample.code === "EPIPE"
  );
}

export interface AdaptiveOptions {
  /** Answers slower than this many times their usual time lower the limit (default 1.4). */
  slowRatio?: number;
  /** Answers within this many times their usual time let the limit rise (default 1.15). */
  fastRatio?: number;
  /** How fast the best time seen is forgotten: it grows by this share per second (default 0.005). */
  forgetPerSecond?: number;
  /** Told of each change of the limit. */
  onChange?: (change: { from: number; to: number; reason: string }) => void;
}

export interface AdaptiveState {
  limit: number;
  max: number;
  /** How much slower answers are than their usual time (smoothed; 1 = as usual). */
  slowness: number;
  /** Smoothed time of an answer, ms. */
  answerMs: number;
  /** Refusals seen (429, 503, connections refused or reset). */
  refusals: number;
  /** Changes of the limit, up and down. */
  raised: number;
  lowered: number;
}

/**
 * Moves a limiter's limit with the server's answers (see the module's comment). Call `observe` for
 * every answer; from any thread, as long as the samples reach this one object.
 */
export class AdaptiveConcurrency {
  private readonly best = new Map<string, { ms: number; at: number; count: number }>();
  private slowness = 1;
  private answerMs = 0;
  private good = 0;
  private slow = 0;
  private calmUntil = 0;
  private refusals = 0;
  private raised = 0;
  private lowered = 0;
  private readonly slowRatio: number;
  private readonly fastRatio: number;
  private readonly drift: number;

  constructor(
    readonly limiter: SharedLimiter,
    private readonly options: AdaptiveOptions = {},
  ) {
    this.slowRatio = options.slowRatio ?? 1.4;
    this.fastRatio = options.fastRatio ?? 1.15;
    this.drift = 1 + (options.forgetPerSecond ?? 0.005);
  }

  state(): AdaptiveState {
    return {
      limit: this.limiter.limit,
      max: this.limiter.max,
      slowness: Math.round(this.slowness * 100) / 100,
      answerMs: Math.round(this.answerMs),
      refusals: this.refusals,
      raised: this.raised,
      lowered: this.lowered,
    };
  }

  observe(sample: AnswerSample, now = performance.now()): void {
    if (isRefusal(sample)) {
      this.refusals++;
      this.lower(Math.floor(this.limiter.limit / 2), "the server refused a request", now);
      return;
    }
    if (sample.status === undefined || sample.status >= 400) return; // another failure: says nothing on load
    this.answerMs = this.answerMs === 0 ? sample.ms : this.answerMs * 0.8 + sample.ms * 0.2;
    // Answers are compared with those of the same call and about the same size (a quarter octave).
    const key = `${sample.call}|${Math.round(4 * Math.log2(sample.bytes + 1))}`;
    let seen = this.best.get(key);
    if (!seen) {
      if (this.best.size > 1000) this.best.clear();
      seen = { ms: sample.ms, at: now, count: 0 };
      this.best.set(key, seen);
    }
    // The usual time is the best one seen, forgotten slowly (it doubles in about two minutes): a
    // server that has become slower for good is judged against its new speed in the end.
    const usual = seen.ms * this.drift ** ((now - seen.at) / 1000);
    if (sample.ms <= usual) Object.assign(seen, { ms: sample.ms, at: now });
    if (++seen.count < 3) return; // not enough to know the usual time of this call yet
    // A few milliseconds of noise on a fast answer is not a slow-down.
    const ratio = (sample.ms + 5) / (usual + 5);
    this.slowness = this.slowness * 0.7 + ratio * 0.3;
    if (this.slowness > this.slowRatio) {
      this.good = 0;
      // A round of slow answers, not one delayed by a hiccup of this machine or the network.
      if (++this.slow < this.limiter.limit) return;
      this.slow = 0;
      // By a quarter, or in proportion to the slow-down (at most by half).
      const factor = Math.min(0.75, Math.max(0.5, 1 / this.slowness));
      this.lower(
        Math.floor(this.limiter.limit * factor),
        `answers ${this.slowness.toFixed(1)}× slower than usual`,
        now,
      );
      return;
    }
    this.slow = 0;
    if (this.slowness <= this.fastRatio && now >= this.calmUntil) {
      // One step up per round of answers at the usual speed, while the limit is what holds requests
      // back (as many in flight as it allows: this answer's slot is not given back yet).
      if (this.limiter.inFlight < this.limiter.limit) return;
      if (++this.good >= this.limiter.limit && this.limiter.limit < this.limiter.max) {
        this.good = 0;
        const from = this.limiter.limit;
        const to = this.limiter.setLimit(from + 1);
        this.raised++;
        this.options.onChange?.({ from, to, reason: "answers at their usual speed" });
      }
    } else this.good = 0;
  }

  /** Lowers the limit (by one at least), then waits about two answers before judging again. */
  private lower(target: number, reason: string, now: number): void {
    this.good = 0;
    if (now < this.calmUntil) return;
    this.calmUntil = now + Math.max(250, 2 * this.answerMs);
    const from = this.limiter.limit;
    const to = this.limiter.setLimit(Math.min(from - 1, target));
    // Answers already slowed by the old limit do not count against the new one.
    this.slowness = Math.min(this.slowness, this.slowRatio);
    if (to === from) return;
    this.lowered++;
    this.options.onChange?.({ from, to, reason });
  }
}
