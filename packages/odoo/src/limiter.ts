/**
 * How many requests a client keeps in flight at once, and how that number follows the server.
 *
 * `SharedLimiter` is a counting semaphore in shared memory: clients on several threads (the ETL's
 * reader threads and its main thread) that are given the same limiter (`share` it, `attach` the share
 * on the other thread) never have more requests in flight together than its limit. The limit can move
 * between 1 and the maximum at any time; requests start in order of arrival. A thread that dies
 * (crash, out of memory, `terminate`) does not take slots with it: the thread that shared the
 * limiter `reclaim`s the dead one's share on its `exit`.
 *
 * `AdaptiveConcurrency` moves it. It hears every answer's time (HTTP only, not the wait for a
 * slot) and lowers the limit when answers slow down against the best recently seen for the same
 * call and size of answer (a server whose workers are all busy queues requests, so answers take
 * longer as more are sent, and stay slower for the requests that follow: a pause that only delayed
 * the answers in flight across it is not a busy server), down to two, or at once by half when the
 * server refuses (429, 503, connections refused or reset); it raises it again by one each round of
 * answers that come back at their usual speed while the limit is reached (a limit nobody reaches
 * says nothing about a higher one).
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
  /**
   * From sending the request to the answer's headers, when there was an answer. Odoo renders an
   * answer whole before it sends it, so this is the server's time (its queue and its work) without
   * the body's transfer or the client's own delays in reading it (a thread busy decoding the page
   * before reads the next one late: that is not the server slowing down).
   */
  firstByteMs?: number | undefined;
  /** Bytes of the answer's body (0 on a failure without one). */
  bytes: number;
  /** HTTP status, when there was an answer. */
  status?: number | undefined;
  /** Node's error code, when the request failed without an answer (ECONNREFUSED, ECONNRESET, …). */
  code?: string | undefined;
}

/*
 * The shared memory: a header, then one place per holder (a thread's limiter, or the creator's).
 * Each place is written by its holder only, while it lives, so a dead holder's state is exactly its
 * place: `reclaim` clears it in one go, whatever the holder was doing when it died. The number in
 * flight is the sum of the places' HELD; the order of arrival comes from CLOCK's stamps.
 */
const NOTIFY = 0; // bumped on every change that may let a waiter go; waiters sleep on it
const CLOCK = 1; // the next arrival stamp
const LIMIT = 2;
const MAX = 3;
const HOLDERS = 4; // how many places follow
const HEADER = 5;
// A holder's place:
const OWNED = 0; // 1 while given to a holder (`share`), 0 once free again (`reclaim`)
const HELD = 1; // slots it holds (and, for an instant, the one it is claiming)
const HEAD = 2; // the stamp of its oldest waiting request, or EMPTY
const PLACE = 3;
/** No request waiting; never given as a stamp. */
const EMPTY = -0x80000000;
/** Places of a limiter made by `create`: its creator and up to 31 threads. */
const DEFAULT_HOLDERS = 32;

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<"ok" | "timed-out"> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** What another thread needs to take part in a limiter: its memory and a place of its own. */
export interface LimiterShare {
  buffer: SharedArrayBuffer;
  holder: number;
}

/**
 * A semaphore in shared memory whose requests start in order of arrival on every thread (a stream
 * that has just released a slot cannot take it back ahead of one waiting), and whose slots survive
 * the death of the thread that held them.
 *
 * Each request takes a stamp on arrival and waits in its own limiter's line; the oldest waiting
 * request of each limiter shows its stamp in its place (HEAD). That one goes when no other place
 * shows an older stamp and fewer than `limit` slots are held: it adds one to its place's HELD, then
 * looks again, and gives the slot back if an older request has shown up meanwhile (another thread
 * claiming at the same instant sees this claim in turn, so two claims never both go over the limit).
 * `release` takes one off HELD. Nothing a holder does touches another's place: when a thread dies,
 * mid-request or waiting, its slots and its place in line are in its place, and nowhere else.
 */
export class SharedLimiter implements RequestLimiter {
  private readonly cells: Int32Array;
  private readonly holders: number;
  /** This holder's requests waiting, oldest first. */
  private readonly line: { stamp: number; go: () => void }[] = [];
  private serving = false;

  /** A limiter of `max` requests at once (the limit starts at the maximum), held by this thread. */
  static create(max: number, holders = DEFAULT_HOLDERS): SharedLimiter {
    const places = Math.max(1, Math.floor(holders));
    const buffer = new SharedArrayBuffer((HEADER + places * PLACE) * Int32Array.BYTES_PER_ELEMENT);
    const cells = new Int32Array(buffer);
    const m = Math.max(1, Math.floor(max));
    Atomics.store(cells, MAX, m);
    Atomics.store(cells, LIMIT, m);
    Atomics.store(cells, HOLDERS, places);
    for (let h = 0; h < places; h++) Atomics.store(cells, HEADER + h * PLACE + HEAD, EMPTY);
    Atomics.store(cells, HEADER + OWNED, 1);
    return new SharedLimiter(buffer, 0);
  }

  /** The same limiter on another thread, in the place `share` gave it. */
  static attach(share: LimiterShare): SharedLimiter {
    return new SharedLimiter(share.buffer, share.holder);
  }

  private constructor(
    readonly buffer: SharedArrayBuffer,
    /** This limiter's place. */
    readonly holder: number,
  ) {
    this.cells = new Int32Array(buffer);
    this.holders = Atomics.load(this.cells, HOLDERS);
    if (!(holder >= 0 && holder < this.holders)) throw new RangeError(`no holder place ${holder}`);
  }

  /**
   * A free place for another thread (`attach` it there). Once that thread has exited, `reclaim` the
   * place: a thread that dies holding slots otherwise keeps them forever.
   */
  share(): LimiterShare {
    for (let h = 0; h < this.holders; h++) {
      if (Atomics.compareExchange(this.cells, HEADER + h * PLACE + OWNED, 0, 1) === 0)
        return { buffer: this.buffer, holder: h };
    }
    throw new Error(`the request limiter has no free place: ${this.holders} threads share it already`);
  }

  /**
   * Frees a place given by `share`, once the thread attached there has exited (its `exit` event):
   * the slots it held and its requests' turns go to the others. Returns the slots it held.
   */
  reclaim(holder: number): number {
    if (holder === this.holder || !(holder >= 0 && holder < this.holders))
      throw new RangeError(`cannot reclaim holder place ${holder}`);
    const at = HEADER + holder * PLACE;
    const held = Atomics.exchange(this.cells, at + HELD, 0);
    Atomics.store(this.cells, at + HEAD, EMPTY);
    Atomics.store(this.cells, at + OWNED, 0);
    this.wake();
    return Math.max(0, held);
  }

  get max(): number {
    return Atomics.load(this.cells, MAX);
  }

  get limit(): number {
    return Atomics.load(this.cells, LIMIT);
  }

  /** Requests holding a slot now, on every thread. */
  get inFlight(): number {
    let n = 0;
    for (let h = 0; h < this.holders; h++) n += Atomics.load(this.cells, HEADER + h * PLACE + HELD);
    return n;
  }

  /** Sets the limit (kept between 1 and the maximum); returns it. Requests in flight finish. */
  setLimit(limit: number): number {
    const next = Math.min(this.max, Math.max(1, Math.round(limit)));
    const previous = Atomics.exchange(this.cells, LIMIT, next);
    if (next > previous) this.wake(); // room for more: every waiter looks again
    return next;
  }

  /** Resolves once the request may go. The wait does not keep the event loop alive by itself. */
  acquire(): Promise<void> {
    let stamp = Atomics.add(this.cells, CLOCK, 1);
    if (stamp === EMPTY) stamp = Atomics.add(this.cells, CLOCK, 1);
    return new Promise<void>((go) => {
      this.line.push({ stamp, go });
      if (!this.serving) void this.serve();
    });
  }

  release(): void {
    Atomics.sub(this.cells, this.place(HELD), 1);
    this.wake();
  }

  /** Lets this holder's waiting requests go, one after the other, each at its turn. */
  private async serve(): Promise<void> {
    this.serving = true;
    const head = this.place(HEAD);
    try {
      for (let next = this.line[0]; next; next = this.line[0]) {
        // Shown to the others before claiming: a younger request sees it and lets it go first.
        Atomics.store(this.cells, head, next.stamp);
        await this.claim(next.stamp);
        this.line.shift();
        next.go();
        // The next one's stamp replaces it at once (no instant without one), then the others look again.
        Atomics.store(this.cells, head, this.line[0]?.stamp ?? EMPTY);
        this.wake();
      }
    } finally {
      Atomics.store(this.cells, head, EMPTY);
      this.serving = false;
    }
  }

  /** Takes a slot for the request of `stamp`, this holder's oldest, once it is its turn. */
  private async claim(stamp: number): Promise<void> {
    const held = this.place(HELD);
    for (;;) {
      const seen = Atomics.load(this.cells, NOTIFY);
      if (!this.olderWaiting(stamp) && this.inFlight < this.limit) {
        Atomics.add(this.cells, held, 1);
        for (;;) {
          const now = Atomics.load(this.cells, NOTIFY);
          if (this.olderWaiting(stamp)) {
            // An older request showed up while this one claimed: it goes first.
            Atomics.sub(this.cells, held, 1);
            this.wake();
            break;
          }
          // Over the limit only while a younger request claiming at the same instant gives its
          // claim back (it sees this one's stamp), or when the limit has just been lowered.
          if (this.inFlight <= this.limit) return;
          await this.sleep(now);
        }
      } else await this.sleep(seen);
    }
  }

  /** Whether another holder shows a request older than `stamp` (stamps compared modulo 2³²). */
  private olderWaiting(stamp: number): boolean {
    for (let h = 0; h < this.holders; h++) {
      if (h === this.holder) continue;
      const other = Atomics.load(this.cells, HEADER + h * PLACE + HEAD);
      if (other !== EMPTY && ((other - stamp) | 0) < 0) return true;
    }
    return false;
  }

  private place(cell: number): number {
    return HEADER + this.holder * PLACE + cell;
  }

  private wake(): void {
    Atomics.add(this.cells, NOTIFY, 1);
    Atomics.notify(this.cells, NOTIFY);
  }

  /** Until something changes (NOTIFY moves from `seen`). */
  private async sleep(seen: number): Promise<void> {
    const wait = waitAsync(this.cells, NOTIFY, seen);
    if (wait.async) await wait.value;
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

/** The lowest limit a slow-down alone leads to (see `observe`). */
const SLOW_FLOOR = 2;

/** Added to both sides when an answer's time is compared with its usual one (ms). */
const NOISE_MS = 25;

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
  /** When the first answer of the current run of slow ones arrived. */
  private slowSince: number | undefined;
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
    // The server's time: to the first byte when known (see AnswerSample.firstByteMs).
    const ms = sample.firstByteMs ?? sample.ms;
    this.answerMs = this.answerMs === 0 ? ms : this.answerMs * 0.8 + ms * 0.2;
    // Answers are compared with those of the same call and about the same size (a quarter octave).
    const key = `${sample.call}|${Math.round(4 * Math.log2(sample.bytes + 1))}`;
    let seen = this.best.get(key);
    if (!seen) {
      if (this.best.size > 1000) this.best.clear();
      seen = { ms, at: now, count: 0 };
      this.best.set(key, seen);
    }
    // The usual time is the best one seen, forgotten slowly (it doubles in about two minutes): a
    // server that has become slower for good is judged against its new speed in the end.
    const usual = seen.ms * this.drift ** ((now - seen.at) / 1000);
    if (ms <= usual) Object.assign(seen, { ms, at: now });
    if (++seen.count < 3) return; // not enough to know the usual time of this call yet
    // Tens of milliseconds on a fast answer are noise (this machine's own load, a garbage
    // collection on either side), not a server whose workers are all taken.
    const ratio = (ms + NOISE_MS) / (usual + NOISE_MS);
    this.slowness = this.slowness * 0.7 + ratio * 0.3;
    if (this.slowness > this.slowRatio) {
      this.good = 0;
      this.slowSince ??= now;
      // A round of slow answers, not one delayed by a hiccup of this machine or the network: and
      // among them one asked after the first slow one came back, itself slow. A server whose workers
      // are all taken stays slow for the requests that follow; a pause (a garbage collection on
      // either side, a stalled link) delays only the answers that were in flight across it, all at
      // once, and the ones asked after it come back at their usual speed.
      if (++this.slow < this.limiter.limit) return;
      if (!(ratio > this.slowRatio && now - sample.ms >= this.slowSince)) return;
      this.slow = 0;
      this.slowSince = undefined;
      // Never below two for a slow-down (a refusal may take it to one): with one request at a time
      // the server waits while this side decodes and writes each answer, and this side waits while
      // the server works, so a busy server is left with less done, not with less to do. Two keep
      // both busy, and are what a server with any spare worker takes in its stride.
      if (this.limiter.limit <= SLOW_FLOOR) return;
      // By a quarter, or in proportion to the slow-down (at most by half).
      const factor = Math.min(0.75, Math.max(0.5, 1 / this.slowness));
      this.lower(
        Math.max(SLOW_FLOOR, Math.floor(this.limiter.limit * factor)),
        `answers ${this.slowness.toFixed(1)}× slower than usual`,
        now,
      );
      return;
    }
    this.slow = 0;
    this.slowSince = undefined;
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
