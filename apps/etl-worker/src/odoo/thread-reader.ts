/**
 * A PageReader on worker threads: the main thread only moves bytes (asks for a page, receives it
 * encoded, writes it to PostgreSQL) while the threads fetch, decode and map the next ones. By
 * default one thread serves every model, reading one page ahead. With more (ETL_READER_THREADS),
 * the pages of one full pass are decoded on the threads in turn (`decodeAhead`): as soon as a
 * page's answer arrives on one thread, the next page is fetched and decoded on another. Each request
 * goes to the least busy thread, and the threads' clients split the Odoo concurrency limit between
 * them. If a thread dies, the pages it owed fail with the reason and a new thread starts on its next
 * request; with a shared limiter, each thread has its own place in it, and the slots a dead thread
 * held (its requests in flight, its turns in line) are taken back when it exits, so a crash, an
 * out-of-memory or a `terminate` never leaves the process with fewer requests to Odoo at once.
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FieldSpec } from "@finanzas/ledger";
import { type AnswerSample, type OdooClientOptions, OdooTransportError, SharedLimiter } from "@finanzas/odoo";
import type { PageReader, PageRequest, PageSummary } from "./pages.js";
import type { Position, Source } from "./source.js";

type WireRequest = Omit<PageRequest, "decimals" | "columns"> & {
  columns: FieldSpec[];
  decimals: [number, number][];
};

export type ReaderMessage =
  | {
      op: "full";
      id: number;
      request: WireRequest;
      afterId: number;
      /** Post an `arrived` reply with the page's last id as soon as its answer arrives. */
      hints?: boolean;
    }
  | {
      op: "incremental";
      id: number;
      request: WireRequest;
      from: Position;
    }
  /** A COPY page's bytes back from the main thread once written: the next COPY page goes there. */
  | { op: "recycle"; data: ArrayBuffer }
  | { op: "close" };

export type ReaderReply =
  | { id: number; type: "done"; summary: PageSummary }
  /** An answer the thread's client had (its time, size, status), for the adaptive concurrency. */
  | { id: 0; type: "answer"; sample: AnswerSample }
  | { id: number; type: "arrived"; lastIdHint: number }
  | { id: number; type: "retry"; call: string; attempt: number; delayMs: number; error: string }
  | { id: number; type: "error"; name: string; message: string; odoo: boolean };

/** An error raised on the reader thread, with its name (OdooTransportError, OdooAccessError, …). */
export class ReaderThreadError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * The thread's entry: the built `reader-thread.js` next to this file, or, when this runs from the
 * TypeScript sources (tests), the built one in `dist/odoo/` (tests run after the build).
 */
const entry = (): string => {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith(".ts")
    ? fileURLToPath(new URL("../../dist/odoo/reader-thread.js", import.meta.url))
    : fileURLToPath(new URL("./reader-thread.js", import.meta.url));
};

interface Pending {
  resolve(summary: PageSummary): void;
  reject(error: Error): void;
  source: Source;
  onArrived?: ((lastIdHint: number) => void) | undefined;
}

export interface ThreadReaderLimits {
  /** Old-space limit of each reader thread, MB. Default 128 (pages of 1 000 journal items use ~20). */
  heapMb: number;
  /** Reader threads (default 1). */
  threads?: number;
}

/** Reader threads: a PageReader that can also be stopped as a crash would stop it. */
export interface ThreadReader extends PageReader {
  /**
   * Stops every reader thread at once, wherever it is (as a crash would): the pages they owed fail,
   * their slots of a shared limiter are taken back, and a new thread starts on the next request.
   */
  terminate(): Promise<void>;
}

export function createThreadReader(
  clientOptions: OdooClientOptions,
  limits: ThreadReaderLimits = { heapMb: 128 },
): ThreadReader {
  const count = Math.max(1, limits.threads ?? 1);
  // Odoo sees no more requests at once than one client would allow: the threads' clients share the
  // limiter when there is one (with the main thread's client too), else split the limit.
  const perThread =
    clientOptions.limiter instanceof SharedLimiter
      ? (clientOptions.maxConcurrency ?? 4)
      : Math.max(1, Math.ceil((clientOptions.maxConcurrency ?? 4) / count));
  const slots = Array.from({ length: count }, () =>
    readerThread({ ...clientOptions, maxConcurrency: perThread }, limits, count === 1),
  );
  if (count === 1) return slots[0] as ThreadReader;
  return {
    ...decodeAhead(slots),
    terminate: async () => {
      await Promise.all(slots.map((s) => s.terminate()));
    },
  };
}

/**
 * Several threads reading one full pass together: as soon as a page's answer arrives on one
 * thread (its last id known, before it is decoded), the next page is asked for and decoded on
 * another, so the pages of one model decode in parallel instead of one after the other on one
 * thread. At most one such page ahead per model stream; the engine still takes pages in order.
 */
export function decodeAhead(slots: ThreadSlot[]): PageReader {
  const busy = slots.map(() => 0);
  /** The least busy thread, `avoid` only if no other is as free. */
  const pick = (avoid = -1): number => {
    let best = -1;
    for (let i = 0; i < slots.length; i++) {
      if (best < 0 || busy[i]! < busy[best]! || (busy[i] === busy[best] && best === avoid)) best = i;
    }
    return best;
  };
  interface Ahead {
    afterId: number;
    thread: number;
    summary: Promise<PageSummary>;
    /** The page's last id, once its answer has arrived. */
    next?: number;
    at: number;
  }
  const ahead = new Map<string, Ahead>();
  const streamOf = (request: PageRequest) =>
    `${request.model}|${request.toId ?? ""}|${request.limit}|${request.copy === true}|${request.fields.join(",")}`;

  const run = (request: PageRequest, afterId: number, source: Source, thread: number) => {
    const entry: Ahead = { afterId, thread, summary: Promise.resolve() as never, at: Date.now() };
    busy[thread]!++;
    entry.summary = (slots[thread] as ThreadSlot)
      .full(request, afterId, source, (next) => {
        entry.next = next;
        arrived(request, source, entry);
      })
      .finally(() => {
        busy[thread]!--;
      });
    return entry;
  };
  /** A page's answer arrived: its successor goes to another thread, unless one is ahead already. */
  const arrived = (request: PageRequest, source: Source, page: Ahead) => {
    const stream = streamOf(request);
    if (page.next === undefined || ahead.has(stream) || source.signal?.aborted) return;
    const next = run(request, page.next, source, pick(page.thread));
    next.summary.catch(() => {}); // surfaces when the page is asked for
    ahead.set(stream, next);
  };

  return {
    full(request, afterId, source, onArrived) {
      const stream = streamOf(request);
      const now = Date.now();
      for (const [k, v] of ahead) if (now - v.at > 60_000) ahead.delete(k);
      const early = ahead.get(stream);
      if (early) ahead.delete(stream);
      if (early && early.afterId === afterId) {
        // Its own successor was held back while it waited: send it now if its answer is in.
        if (early.next !== undefined) {
          onArrived?.(early.next);
          arrived(request, source, early);
        }
        return early.summary;
      }
      const entry = run(request, afterId, source, pick());
      if (onArrived)
        void entry.summary.then(
          () => entry.next !== undefined && onArrived(entry.next),
          () => {},
        );
      return entry.summary;
    },
    incremental: (request, from, source) => (slots[pick()] as ThreadSlot).incremental(request, from, source),
    recycle: (page) => slots.some((slot) => slot.recycle?.(page)),
    async close() {
      ahead.clear();
      await Promise.all(slots.map((s) => s.close()));
    },
  };
}

/** A reader thread (or any PageReader that reports `onArrived`) taking part in `decodeAhead`. */
type ThreadSlot = PageReader;

/** One reader thread, started on the first request (and again after it died). */
function readerThread(
  clientOptions: OdooClientOptions,
  limits: ThreadReaderLimits,
  readAhead: boolean,
): ThreadReader {
  // Functions (onRetry, onAnswer) do not cross threads: the retry policy travels in the client's
  // options, a shared limiter as its memory and a place in it; retries and answers come back as
  // messages.
  const { retry: _retry, limiter, onAnswer, ...options } = clientOptions;
  const shared = limiter instanceof SharedLimiter ? limiter : undefined;
  const cloneable: OdooClientOptions = {
    ...options,
    ...(clientOptions.retry === false
      ? { retry: false }
      : clientOptions.retry
        ? { retry: { ...clientOptions.retry, onRetry: undefined } }
        : {}),
  };
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  /** COPY pages' buffers this thread made, until they are given back (`recycle`). */
  const owned = new WeakSet<ArrayBufferLike>();
  const failAll = (error: Error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const start = (): Worker => {
    if (worker) return worker;
    // Each thread its own place in the limiter, taken back (with any slot it still holds) on its exit.
    const limiterShare = shared?.share();
    // Its own options: not the parent's (a test runner's "source" condition would load TypeScript).
    let w: Worker;
    try {
      w = new Worker(entry(), {
        workerData: { clientOptions: cloneable, readAhead, limiterShare, answers: onAnswer !== undefined },
        execArgv: [],
        // The thread's live set is the pages in flight; a bounded old space makes V8 collect rather
        // than grow (the worker's RSS stays flat whatever the table sizes). A full pass's pages make
        // little garbage (no record objects), so a young generation of 16 MB (V8's default is 48)
        // costs no speed and keeps ~30 MB of peak RSS off per thread (bench/README.md, the ETL record
        // of 2026-11-29 09:46).
        resourceLimits: { maxOldGenerationSizeMb: limits.heapMb, maxYoungGenerationSizeMb: 16 },
      });
    } catch (error) {
      if (limiterShare) shared?.reclaim(limiterShare.holder);
      throw error;
    }
    w.unref(); // never what keeps the process alive
    w.on("message", (reply: ReaderReply) => {
      if (reply.type === "answer") {
        onAnswer?.(reply.sample);
        return;
      }
      const p = pending.get(reply.id);
      if (!p) return;
      if (reply.type === "arrived") {
        p.onArrived?.(reply.lastIdHint);
        return;
      }
      if (reply.type === "retry") {
        p.source.onRetry?.({
          call: reply.call,
          attempt: reply.attempt,
          delayMs: reply.delayMs,
          // only transport errors are retried: the thread's was one
          error: new OdooTransportError(reply.error, { call: reply.call, retryable: true }),
        });
        return;
      }
      pending.delete(reply.id);
      if (reply.type === "done" && reply.summary.encoded.format === "copy")
        owned.add(reply.summary.encoded.data.buffer);
      if (reply.type === "done") p.resolve(reply.summary);
      else p.reject(new ReaderThreadError(reply.name, reply.message));
    });
    const gone = (error: Error) => {
      if (worker === w) worker = undefined;
      failAll(error);
    };
    w.on("error", (error) => gone(new Error(`the Odoo reader thread failed: ${error.message}`)));
    w.on("exit", (code) => {
      // Before the pages it owed fail: their retries find the dead thread's slots free again.
      if (limiterShare) shared?.reclaim(limiterShare.holder);
      gone(new Error(`the Odoo reader thread exited (code ${code})`));
    });
    worker = w;
    return w;
  };

  const ask = (
    message:
      | Omit<Extract<ReaderMessage, { op: "full" }>, "id">
      | Omit<Extract<ReaderMessage, { op: "incremental" }>, "id">,
    source: Source,
    onArrived?: (lastIdHint: number) => void,
  ): Promise<PageSummary> => {
    const signal = source.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = nextId++;
    return new Promise<PageSummary>((resolve, reject) => {
      // An aborted task stops waiting at once; the page the thread is reading is dropped.
      const onAbort = () => {
        pending.delete(id);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const done =
        <T>(fn: (value: T) => void) =>
        (value: T) => {
          signal?.removeEventListener("abort", onAbort);
          fn(value);
        };
      pending.set(id, { resolve: done(resolve), reject: done(reject), source, onArrived });
      start().postMessage({ ...message, id, ...(onArrived ? { hints: true } : {}) } as ReaderMessage);
    });
  };

  const wire = (request: PageRequest): WireRequest => ({ ...request, decimals: [...request.decimals] });

  return {
    full: (request, afterId, source, onArrived) =>
      ask({ op: "full", request: wire(request), afterId }, source, onArrived),
    incremental: (request, from, source) => ask({ op: "incremental", request: wire(request), from }, source),
    recycle(page) {
      if (page.format !== "copy") return false;
      const data = page.data.buffer;
      if (!owned.has(data)) return false;
      owned.delete(data);
      // Its thread may have died and been replaced since: the bytes then go to the garbage collector.
      if (worker && data instanceof ArrayBuffer)
        worker.postMessage({ op: "recycle", data } satisfies ReaderMessage, [data]);
      return true;
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (!w) return;
      failAll(new Error("the Odoo reader thread was closed"));
      w.postMessage({ op: "close" } satisfies ReaderMessage);
      const timer = setTimeout(() => void w.terminate(), 2000);
      await new Promise<void>((resolve) => w.once("exit", () => resolve()));
      clearTimeout(timer);
    },
    async terminate() {
      const w = worker;
      if (!w) return;
      const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()));
      await w.terminate();
      await exited;
    },
  };
}
