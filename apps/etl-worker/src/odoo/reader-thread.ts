/**
 * The reader thread's entry (see thread-reader.ts): its own Odoo client, pages fetched, decoded and
 * mapped here, only their summaries (column arrays as strings, keyset positions, problems) posted
 * back. Transport errors are retried by this thread's client (its options carry the policy and the
 * deadline); each retry is reported.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  BufferPool,
  createOdooClient,
  type LimiterShare,
  type OdooClientOptions,
  SharedLimiter,
} from "@finanzas/odoo";
import { inProcessReader, type PageRequest } from "./pages.js";
import type { Source } from "./source.js";
import type { ReaderMessage, ReaderReply } from "./thread-reader.js";

const { clientOptions, readAhead, limiterShare, answers } = workerData as {
  clientOptions: OdooClientOptions;
  readAhead: boolean;
  /**
   * The limiter of requests in flight shared with the main thread's client (and other threads), in a
   * place of this thread's own: the main thread takes back what it holds when it exits.
   */
  limiterShare?: LimiterShare;
  /** Post each answer's time, size and status to the main thread. */
  answers: boolean;
};
const port = parentPort;
if (!port) throw new Error("reader-thread.ts runs as a worker thread");
const client = createOdooClient({
  ...clientOptions,
  ...(limiterShare ? { limiter: SharedLimiter.attach(limiterShare) } : {}),
  ...(answers
    ? { onAnswer: (sample) => port.postMessage({ id: 0, type: "answer", sample } satisfies ReaderReply) }
    : {}),
});
// Read-ahead (one thread): Odoo prepares the next page of a full pass while this thread decodes the
// current one. With several threads the next page is fetched and decoded on another thread instead.
// COPY pages are written into these and come back once PostgreSQL has them (op "recycle").
const copyBytes = new BufferPool(4);
const reader = inProcessReader({ readAhead, copyBytes });

port.on("message", async (message: ReaderMessage) => {
  if (message.op === "recycle") {
    copyBytes.give(message.data);
    return;
  }
  if (message.op === "close") {
    await client.close().catch(() => {});
    port.close();
    return;
  }
  const { id } = message;
  const source: Source = {
    client,
    onRetry: ({ call, attempt, delayMs, error }) =>
      port.postMessage({
        id,
        type: "retry",
        call,
        attempt,
        delayMs,
        error: `${error.name}: ${error.message}`,
      } satisfies ReaderReply),
  };
  const request: PageRequest = { ...message.request, decimals: new Map(message.request.decimals) };
  try {
    const summary =
      message.op === "full"
        ? await reader.full(
            request,
            message.afterId,
            source,
            message.hints
              ? (lastIdHint) => port.postMessage({ id, type: "arrived", lastIdHint } satisfies ReaderReply)
              : undefined,
          )
        : await reader.incremental(request, message.from, source);
    // A COPY page's bytes move to the main thread without a copy.
    const transfer = summary.encoded.format === "copy" ? [summary.encoded.data.buffer as ArrayBuffer] : [];
    port.postMessage({ id, type: "done", summary } satisfies ReaderReply, transfer);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    port.postMessage({
      id,
      type: "error",
      name: e.name,
      message: e.message,
      odoo: e.name.startsWith("Odoo"),
    } satisfies ReaderReply);
  }
});
