import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { AdaptiveConcurrency, SharedLimiter } from "./limiter.js";

/** The built limiter, for the threads (tests run after the build). */
const built = new URL("../dist/limiter.js", import.meta.url).href;

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("SharedLimiter", () => {
  it("never lets more than its limit in flight, and serves waiters in order", async () => {
    const limiter = SharedLimiter.create(3);
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await limiter.acquire();
        order.push(i);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 2 + (i % 3)));
        inFlight--;
        limiter.release();
      }),
    );
    expect(peak).toBe(3);
    expect(order.slice(0, 3)).toEqual([0, 1, 2]);
    expect(limiter.inFlight).toBe(0);
  });

  it("follows its limit: lowered, the requests in flight finish and fewer start; raised, waiters start at once", async () => {
    const limiter = SharedLimiter.create(4);
    for (let i = 0; i < 4; i++) await limiter.acquire();
    expect(limiter.setLimit(2)).toBe(2);
    let started = 0;
    const waiting = Array.from({ length: 3 }, () => limiter.acquire().then(() => started++));
    limiter.release();
    limiter.release();
    await tick();
    expect(started).toBe(0); // 2 in flight = the new limit
    limiter.release();
    await tick();
    expect(started).toBe(1);
    limiter.setLimit(10); // capped at the maximum: 4
    expect(limiter.limit).toBe(4);
    await Promise.all(waiting);
    expect(started).toBe(3);
    expect(limiter.inFlight).toBe(4);
    expect(limiter.setLimit(0)).toBe(1);
  });

  it("serves a waiting request before one that arrives as a slot frees (no cutting in line)", async () => {
    const limiter = SharedLimiter.create(1);
    const granted: string[] = [];
    await limiter.acquire();
    const b = limiter.acquire().then(() => granted.push("waiting"));
    await tick();
    // The holder releases and at once asks again, as a stream reading ahead does.
    limiter.release();
    const c = limiter.acquire().then(() => granted.push("arrived after"));
    await b;
    limiter.release();
    await c;
    expect(granted).toEqual(["waiting", "arrived after"]);
    limiter.release();
    expect(limiter.inFlight).toBe(0);
  });

  it("is the same limiter on another thread, through a share of it", () => {
    const limiter = SharedLimiter.create(5);
    const other = SharedLimiter.attach(limiter.share());
    limiter.setLimit(2);
    expect(other.limit).toBe(2);
    expect(other.max).toBe(5);
    expect(other.holder).not.toBe(limiter.holder);
  });

  it("serves requests in order of arrival across its holders", async () => {
    const limiter = SharedLimiter.create(2);
    const a = SharedLimiter.attach(limiter.share());
    const b = SharedLimiter.attach(limiter.share());
    await limiter.acquire();
    await limiter.acquire();
    const granted: string[] = [];
    const asks = [a, b, a, b, limiter, a].map((l, i) =>
      l.acquire().then(() => {
        granted.push(`${i}`);
      }),
    );
    await tick();
    expect(granted).toEqual([]);
    for (let i = 0; i < 6; i++) {
      ([limiter, limiter, a, b, a, b][i] as SharedLimiter).release();
      await tick();
      expect(granted).toHaveLength(i + 1);
    }
    await Promise.all(asks);
    expect(granted).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(limiter.inFlight).toBe(2);
  });

  it("never lets threads racing for slots have more than its limit in flight together", async () => {
    const limiter = SharedLimiter.create(3);
    // [in use now, most in use at once]
    const counts = new Int32Array(new SharedArrayBuffer(8));
    const threads = Array.from(
      { length: 3 },
      () =>
        new Worker(
          `const { workerData, parentPort } = require("node:worker_threads");
           import(workerData.module).then(async ({ SharedLimiter }) => {
             // A wait for a slot does not keep a thread's event loop alive (its messages do, in a reader thread).
             const alive = setInterval(() => {}, 1000);
             const limiter = SharedLimiter.attach(workerData.share);
             const counts = workerData.counts;
             await Promise.all(Array.from({ length: 4 }, async () => {
               for (let i = 0; i < 150; i++) {
                 await limiter.acquire();
                 const now = Atomics.add(counts, 0, 1) + 1;
                 for (let peak = Atomics.load(counts, 1); now > peak; peak = Atomics.load(counts, 1))
                   Atomics.compareExchange(counts, 1, peak, now);
                 if (i % 3 === 0) await new Promise((r) => setImmediate(r));
                 Atomics.sub(counts, 0, 1);
                 limiter.release();
               }
             }));
             clearInterval(alive);
             parentPort.postMessage("done");
           });`,
          { eval: true, workerData: { module: built, share: limiter.share(), counts } },
        ),
    );
    // once() rejects if a thread fails
    await Promise.all(threads.map((t) => once(t, "message")));
    await Promise.all(threads.map((t) => t.terminate()));
    expect(Atomics.load(counts, 1)).toBe(3);
    expect(limiter.inFlight).toBe(0);
  });

  it("gets back the slots of a thread that died holding them or waiting for one, once reclaimed", async () => {
    const limiter = SharedLimiter.create(4);
    const share = limiter.share();
    await limiter.acquire();
    // A thread takes three slots, waits for a fourth, gets it, waits for a fifth, and dies there
    // (terminated, as by a crash).
    const thread = new Worker(
      `const { workerData, parentPort } = require("node:worker_threads");
       import(workerData.module).then(async ({ SharedLimiter }) => {
         setInterval(() => {}, 1000);
         const limiter = SharedLimiter.attach(workerData.share);
         for (let i = 0; i < 3; i++) await limiter.acquire();
         void limiter.acquire().then(() => {
           void limiter.acquire();
           parentPort.postMessage("a fourth");
         });
         parentPort.postMessage("holding");
       });`,
      { eval: true, workerData: { module: built, share } },
    );
    expect((await once(thread, "message"))[0]).toBe("holding");
    limiter.release(); // the freed slot goes to the thread's waiting request
    expect((await once(thread, "message"))[0]).toBe("a fourth");
    let started = 0;
    const after = limiter.acquire().then(() => started++); // behind the thread's fifth
    const exited = once(thread, "exit");
    await thread.terminate();
    await exited;
    await tick();
    expect(started).toBe(0); // dead, the thread still holds four slots and its turn
    expect(limiter.inFlight).toBe(4);
    expect(limiter.reclaim(share.holder)).toBe(4);
    await after;
    for (let i = 0; i < 3; i++) await limiter.acquire(); // all four free again
    expect(limiter.inFlight).toBe(4);
    let fifth = false;
    const last = limiter.acquire().then(() => {
      fifth = true;
    });
    await tick();
    expect(fifth).toBe(false);
    limiter.release();
    await last;
    // The place is free for the next thread.
    expect(limiter.share().holder).toBe(share.holder);
  });
});

/**
 * A server with `workers` workers and `serviceMs` per answer: with more requests in flight than
 * workers, answers wait in line and take proportionally longer.
 */
async function drive(
  adaptive: AdaptiveConcurrency,
  server: { workers: number; serviceMs: number; refuseAbove?: number },
  rounds: number,
  clock: { now: number },
  inFlight?: number,
): Promise<number[]> {
  const limits: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const c = adaptive.limiter.limit;
    const ms = server.serviceMs * Math.max(1, c / server.workers);
    // As many requests in flight as the limit allows (or as the client has to send).
    const sent = Math.min(c, inFlight ?? c);
    for (let i = 0; i < sent; i++) await adaptive.limiter.acquire();
    for (let i = 0; i < c; i++) {
      const refused = server.refuseAbove !== undefined && i >= server.refuseAbove;
      adaptive.observe(
        refused
          ? { call: "account.move.line.search_read", ms: 1, bytes: 200, status: 503 }
          : { call: "account.move.line.search_read", ms, bytes: 3_000_000, status: 200 },
        clock.now,
      );
    }
    for (let i = 0; i < sent; i++) adaptive.limiter.release();
    clock.now += ms;
    limits.push(adaptive.limiter.limit);
  }
  return limits;
}

describe("AdaptiveConcurrency", () => {
  it("keeps the limit when answers keep their speed", async () => {
    const adaptive = new AdaptiveConcurrency(SharedLimiter.create(4));
    const limits = await drive(adaptive, { workers: 4, serviceMs: 300 }, 30, { now: 0 });
    expect(limits.every((l) => l === 4)).toBe(true);
    expect(adaptive.state().lowered).toBe(0);
  });

  it("lowers the limit when answers slow down (the server's workers are busy), and raises it back when they recover", async () => {
    const changes: string[] = [];
    const adaptive = new AdaptiveConcurrency(SharedLimiter.create(8), {
      onChange: ({ from, to }) => changes.push(`${from}→${to}`),
    });
    const clock = { now: 0 };
    await drive(adaptive, { workers: 8, serviceMs: 300 }, 10, clock);
    expect(adaptive.limiter.limit).toBe(8);
    // Most of the server's workers are taken by others: 2 left for us.
    const busy = await drive(adaptive, { workers: 2, serviceMs: 300 }, 60, clock);
    const crowded = await drive(adaptive, { workers: 1, serviceMs: 300 }, 30, clock);
    expect(Math.min(...crowded)).toBe(2);
    // down to what the server serves at once, and never below two for a slow-down alone
    expect(Math.min(...busy)).toBe(2);
    expect(Math.max(...busy.slice(-20))).toBeLessThanOrEqual(3);
    expect(adaptive.state().lowered).toBeGreaterThan(0);
    // The others are done: the limit climbs back to the maximum.
    const free = await drive(adaptive, { workers: 8, serviceMs: 300 }, 60, clock);
    expect(free.at(-1)).toBe(8);
    expect(changes.length).toBeGreaterThan(4);
  });

  it("halves the limit when the server refuses, and recovers once it stops", async () => {
    const adaptive = new AdaptiveConcurrency(SharedLimiter.create(8));
    const clock = { now: 0 };
    await drive(adaptive, { workers: 8, serviceMs: 100 }, 10, clock);
    const refused = await drive(adaptive, { workers: 8, serviceMs: 100, refuseAbove: 2 }, 20, clock);
    expect(refused.at(-1)).toBeLessThanOrEqual(3);
    expect(adaptive.state().refusals).toBeGreaterThan(0);
    const after = await drive(adaptive, { workers: 8, serviceMs: 100 }, 60, clock);
    expect(after.at(-1)).toBe(8);
  });

  it("raises the limit only while requests reach it", async () => {
    const adaptive = new AdaptiveConcurrency(SharedLimiter.create(8));
    const clock = { now: 0 };
    await drive(adaptive, { workers: 8, serviceMs: 100 }, 5, clock);
    adaptive.limiter.setLimit(3);
    // One request at a time (the last partition of a pass): fast answers, but the limit holds nothing back.
    await drive(adaptive, { workers: 8, serviceMs: 100 }, 40, clock, 1);
    expect(adaptive.limiter.limit).toBe(3);
    await drive(adaptive, { workers: 8, serviceMs: 100 }, 40, clock);
    expect(adaptive.limiter.limit).toBe(8);
  });

  it("judges the server by its first byte: a client too busy to read answers on time does not lower the limit", () => {
    const adaptive = new AdaptiveConcurrency(SharedLimiter.create(4));
    // The server answers in 300 ms every time; this thread, busy decoding, reads the bodies late.
    for (let i = 0; i < 40; i++)
      adaptive.observe(
        { call: "m.search_read", ms: i < 5 ? 320 : 900, firstByteMs: 300, bytes: 3_000_000, status: 200 },
        i * 300,
      );
    expect(adaptive.state().lowered).toBe(0);
    expect(adaptive.limiter.limit).toBe(4);
    // The server itself slows down (its workers are taken): its first bytes come late.
    for (let i = 40; i < 80; i++)
      adaptive.observe(
        { call: "m.search_read", ms: 1_300, firstByteMs: 1_200, bytes: 3_000_000, status: 200 },
        i * 300,
      );
    expect(adaptive.state().lowered).toBeGreaterThan(0);
    expect(adaptive.limiter.limit).toBeLessThan(4);
  });

  it("is not lowered by a pause that delays every answer in flight at once (a garbage collection), only by a slow-down that lasts", () => {
    const adaptive = new AdaptiveConcurrency(SharedLimiter.create(4));
    let t = 0;
    const answer = (ms: number, at: number) =>
      adaptive.observe({ call: "m.search_read", ms, firstByteMs: ms, bytes: 3_000_000, status: 200 }, at);
    /** `n` answers of `ms` each, one every `every` ms. */
    const answers = (n: number, ms: number, every: number) => {
      for (let i = 0; i < n; i++) {
        t += every;
        answer(ms, t);
      }
    };
    // Four requests in flight at a time, 300 ms each: an answer every 75 ms.
    answers(40, 300, 75);
    // A 400 ms pause: the four answers in flight across it all come back 400 ms late, at once …
    t += 400;
    for (let i = 0; i < 4; i++) answer(700, t + i);
    // … and the requests asked after it come back at the usual speed.
    answers(40, 300, 75);
    expect(adaptive.state().lowered).toBe(0);
    expect(adaptive.limiter.limit).toBe(4);
    // The server's workers are taken: the requests asked after the first slow answer are slow too.
    answers(40, 700, 175);
    expect(adaptive.state().lowered).toBeGreaterThan(0);
    expect(adaptive.limiter.limit).toBeLessThan(4);
  });

  it("takes tens of milliseconds on a fast answer for noise, not for a busy server", () => {
    const adaptive = new AdaptiveConcurrency(SharedLimiter.create(4));
    for (let i = 0; i < 60; i++)
      adaptive.observe({ call: "m.search_read", ms: i < 5 ? 30 : 50, bytes: 3_000_000, status: 200 }, i * 50);
    expect(adaptive.state().lowered).toBe(0);
  });

  it("compares an answer with those of the same size: a short last page is not a speed-up, a full one not a slow-down", () => {
    const adaptive = new AdaptiveConcurrency(SharedLimiter.create(4));
    for (let i = 0; i < 40; i++) {
      adaptive.observe({ call: "m.search_read", ms: 300, bytes: 3_000_000, status: 200 }, i * 300);
      adaptive.observe({ call: "m.search_read", ms: 12, bytes: 9_000, status: 200 }, i * 300 + 1);
    }
    expect(adaptive.state().lowered).toBe(0);
    expect(adaptive.limiter.limit).toBe(4);
  });
});
