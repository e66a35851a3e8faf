/**
 * Reading pages for the sync: fetch from Odoo, decode, map to the upsert's column arrays. What the
 * engine keeps of a page is a summary (the encoded columns, the keyset positions, the problems), so
 * the work can run on this thread or on a reader thread (`thread-reader.ts`) without the engine
 * knowing: decoding XML-RPC is most of a sync's CPU, and off the main thread it overlaps with
 * writing PostgreSQL instead of queueing behind it.
 */

import type { FieldSpec } from "@finanzas/ledger";
import { BufferPool, type RecordPage } from "@finanzas/odoo";
import { createTransformer, type EncodedPage, type Problem, type Transformer } from "../transform.js";
import {
  fullPage,
  fullPageRaw,
  incrementalPage,
  type PerCompanyFields,
  type Position,
  rereadPerCompany,
  type Source,
  secondOf,
} from "./source.js";

/** Everything a reader needs to fetch and map one page of a model. */
export interface PageRequest {
  model: string;
  /** Fields to read (the columns' names). */
  fields: string[];
  columns: FieldSpec[];
  /** Currency id → decimals, for monetary rounding. */
  decimals: ReadonlyMap<number, number>;
  limit: number;
  /** Encode the page as COPY text (its ids are above every id the table holds) instead of arrays. */
  copy?: boolean;
  /** Company-dependent fields to read again in each record's company (`rereadPerCompany`). */
  perCompany?: PerCompanyFields;
  /** A full pass's partition: its pages stop at this id (included). */
  toId?: number;
  /** An incremental window's range: its pages stop before this second (epoch seconds, excluded). */
  until?: number;
}

export interface PageSummary {
  encoded: EncodedPage;
  /** Records read (written ones plus those with problems). */
  fetched: number;
  /** Id of the last record read; null for an empty page. */
  lastId: number | null;
  /** write_date second of the last record read. */
  lastSecond: number | null;
  /** Newest write_date second in the page. */
  maxSecond: number | null;
  /** Incremental pages: where the next one starts. */
  next?: Position;
  /** No record after this page (as of this read). */
  done: boolean;
  /** Records left out, with why. */
  problems: Problem[];
}

export interface PageReader {
  /**
   * The next page of a full pass: ids above `afterId`. `onArrived`, when given, hears the page's
   * last id (as its text shows it) as soon as the answer arrives, before it is decoded.
   */
  full(
    request: PageRequest,
    afterId: number,
    source: Source,
    onArrived?: (lastIdHint: number) => void,
  ): Promise<PageSummary>;
  /** The next page of an incremental pass from `from`. */
  incremental(request: PageRequest, from: Position, source: Source): Promise<PageSummary>;
  /**
   * A page this reader gave is written and will not be read again: a COPY page's bytes go back to
   * be reused for a later page (no fresh buffer per page, see BufferPool). True when taken back.
   */
  recycle?(page: EncodedPage): boolean;
  close(): Promise<void>;
}

/** Maps a page's records and summarises them. */
export function summarize(
  transformer: Transformer,
  records: Record<string, unknown>[],
  extra: { done: boolean; next?: Position; copy?: boolean | undefined; copyBytes?: BufferPool },
): PageSummary {
  const problems: Problem[] = [];
  const onProblems = (found: Problem[]) => problems.push(...found);
  const encoded = extra.copy
    ? transformer.encodeCopy(records, onProblems, extra.copyBytes)
    : transformer.encode(records, onProblems);
  // Odoo's "YYYY-MM-DD HH:MM:SS" sorts as text: parse only the newest.
  let newest: string | undefined;
  for (const r of records) {
    const w = r.write_date;
    if (typeof w === "string" && w.length >= 19 && (newest === undefined || w > newest)) newest = w;
  }
  const maxSecond = secondOf(newest);
  const last = records.at(-1);
  return {
    encoded,
    fetched: records.length,
    lastId: typeof last?.id === "number" ? last.id : null,
    lastSecond: last ? secondOf(last.write_date) : null,
    maxSecond,
    ...(extra.next ? { next: extra.next } : {}),
    done: extra.done,
    problems,
  };
}

/** Transformers reused across the pages of a model (keyed by model, columns and decimals). */
export function transformerCache() {
  const cache = new Map<string, Transformer>();
  return (request: PageRequest): Transformer => {
    const key = `${request.model}|${JSON.stringify(request.columns)}|${JSON.stringify([...request.decimals])}`;
    let t = cache.get(key);
    if (!t) {
      if (cache.size > 100) cache.clear();
      t = createTransformer(request.model, request.columns, request.decimals);
      cache.set(key, t);
    }
    return t;
  };
}

/**
 * Pages read and mapped on the calling thread, with the task's source (its retries and signal).
 * A full pass's pages are decoded straight into the encoded page (no object per record, many2one
 * names never decoded). `readAhead`: as soon as a page of a full pass has arrived its successor's
 * request goes out (after the last id the answer's text shows), before this page is decoded and
 * handed over, so Odoo prepares the next page meanwhile (a plain reader only asks once it has
 * finished with a page). At most one page ahead per model stream; an entry nobody asks for (the
 * model failed or was aborted, or the page was the last) is dropped.
 */
export function inProcessReader(options: { readAhead?: boolean; copyBytes?: BufferPool } = {}): PageReader {
  const transformerFor = transformerCache();
  const copyBytes = options.copyBytes ?? new BufferPool(4);
  const ahead = new Map<string, { page: Promise<RecordPage>; at: number }>();
  const keyOf = (request: PageRequest, afterId: number) =>
    `${request.model}|${afterId}|${request.toId ?? ""}|${request.limit}|${request.fields.join(",")}`;
  return {
    async full(request, afterId, source, onArrived) {
      if (request.perCompany) {
        // A small model (the chart of accounts): decoded into records, completed, then encoded.
        const page = await fullPage(
          source,
          request.model,
          request.fields,
          afterId,
          request.limit,
          request.toId,
        );
        await rereadPerCompany(source, request.model, page.records, request.perCompany);
        return summarize(transformerFor(request), page.records, {
          done: page.done,
          copy: request.copy,
          copyBytes,
        });
      }
      const key = keyOf(request, afterId);
      const early = ahead.get(key);
      ahead.delete(key);
      const page = await (early?.page ??
        fullPageRaw(source, request.model, request.fields, afterId, request.limit, request.toId));
      const arrived = options.readAhead || onArrived ? page.lastIdHint() : undefined;
      if (arrived !== undefined && arrived > afterId) onArrived?.(arrived);
      const hint = options.readAhead ? arrived : undefined;
      let nextKey: string | undefined;
      if (hint !== undefined && hint > afterId) {
        const now = Date.now();
        for (const [k, v] of ahead) if (now - v.at > 60_000) ahead.delete(k);
        const next = fullPageRaw(source, request.model, request.fields, hint, request.limit, request.toId);
        next.catch(() => {}); // surfaces when the next page is asked for
        nextKey = keyOf(request, hint);
        ahead.set(nextKey, { page: next, at: now });
      }
      const visitor = transformerFor(request).visitor(request.copy ? "copy" : "arrays", copyBytes);
      page.visit(visitor);
      const out = visitor.finish();
      const done = out.fetched < request.limit;
      // The last page: nobody will ask for what comes after it.
      if (nextKey !== undefined && (done || out.lastId !== hint)) ahead.delete(nextKey);
      return {
        encoded: out.encoded,
        fetched: out.fetched,
        lastId: out.lastId,
        lastSecond: out.fetched > 0 ? secondOf(out.lastWriteDate) : null,
        maxSecond: secondOf(out.newestWriteDate),
        done,
        problems: out.problems,
      };
    },
    async incremental(request, from, source) {
      const page = await incrementalPage(
        source,
        request.model,
        request.fields,
        from,
        request.limit,
        request.until,
      );
      await rereadPerCompany(source, request.model, page.records, request.perCompany);
      return summarize(transformerFor(request), page.records, { done: page.done, next: page.next });
    },
    recycle(page) {
      if (page.format !== "copy" || !(page.data.buffer instanceof ArrayBuffer)) return false;
      copyBytes.give(page.data.buffer);
      return true;
    },
    async close() {
      ahead.clear();
    },
  };
}
