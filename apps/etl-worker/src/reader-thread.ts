/**
 * The reader thread's entry (see thread-reader.ts): its own Odoo client, pages fetched, decoded and
 * mapped here, only their summaries (column arrays as strings, keyset positions, problems) posted
 * back. Transport errors are retried here with the engine's policy; each retry is reported.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createOdooClient, type OdooClientOptions } from "@finanzas/odoo";
import { inProcessReader, type PageRequest, summarize, transformerCache } from "./pages.js";
import { fullPage, type Source } from "./source.js";
import type { ReaderMessage, ReaderReply } from "./thread-reader.js";

const { clientOptions } = workerData as { clientOptions: OdooClientOptions };
const client = createOdooClient(clientOptions);
const reader = inProcessReader();
const transformerFor = transformerCache();
const port = parentPort;
if (!port) throw new Error("reader-thread.ts runs as a worker thread");

/**
 * Read-ahead of full passes: as soon as a page is decoded its successor's request goes out, before
 * this page is mapped and handed over, so Odoo prepares the next page while this thread maps this
 * one (a plain reader only asks once it has finished with a page). At most one page ahead per model
 * stream; an entry nobody asks for (the model failed or was aborted) is dropped after a minute.
 */
const ahead = new Map<string, { page: Promise<FullPage>; at: number }>();
type FullPage = Awaited<ReturnType<typeof fullPage>>;
const keyOf = (request: PageRequest, afterId: number) =>
  `${request.model}|${afterId}|${request.limit}|${request.fields.join(",")}`;

async function fullWithReadAhead(request: PageRequest, afterId: number, source: Source) {
  const key = keyOf(request, afterId);
  const early = ahead.get(key);
  ahead.delete(key);
  const page = await (early?.page ?? fullPage(source, request.model, request.fields, afterId, request.limit));
  const last = page.records.at(-1);
  if (!page.done && last) {
    const now = Date.now();
    for (const [k, v] of ahead) if (now - v.at > 60_000) ahead.delete(k);
    const next = fullPage(source, request.model, request.fields, last.id, request.limit);
    next.catch(() => {}); // surfaces when the next page is asked for
    ahead.set(keyOf(request, last.id), { page: next, at: now });
  }
  return summarize(transformerFor(request), page.records, { done: page.done });
}

port.on("message", async (message: ReaderMessage) => {
  if (message.op === "close") {
    await client.close().catch(() => {});
    port.close();
    return;
  }
  const { id } = message;
  const source: Source = {
    client,
    retry: {
      ...message.retry,
      onRetry: ({ call, attempt, delayMs, error }) =>
        port.postMessage({
          id,
          type: "retry",
          call,
          attempt,
          delayMs,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        } satisfies ReaderReply),
    },
  };
  const request: PageRequest = { ...message.request, decimals: new Map(message.request.decimals) };
  try {
    const summary =
      message.op === "full"
        ? await fullWithReadAhead(request, message.afterId, source)
        : await reader.incremental(request, message.from, source);
    port.postMessage({ id, type: "done", summary } satisfies ReaderReply);
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
