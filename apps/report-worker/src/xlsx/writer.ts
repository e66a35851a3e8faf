/**
 * A streaming .xlsx writer for reports of millions of rows at flat memory.
 *
 * Each row becomes its `<row>` XML at once and is written as UTF-8 into a byte chunk; every
 * ~512 KB the chunk goes to the zip entry of the sheet (`xl/worksheets/sheetN.xml`), which deflates it on the
 * way to `output` (zip.ts). Nothing per row is kept: text is inline (no shared-string table),
 * styles are a fixed table, and the few things known only at the end (sheet names, autofilter
 * ranges) are a line per sheet.
 *
 *   const wb = createXlsxWriter(output, { title, creator, created });
 *   const sheet = wb.addSheet({ name: "General ledger", columns, titleRows });
 *   for await (const row of rows) await sheet.addRow(row);
 *   await sheet.end();
 *   await wb.finish();
 *
 * `addRow` resolves at once unless the zip or `output` is full (back-pressure); after each chunk,
 * and at least every YIELD_EVERY_ROWS rows, it waits one turn of the event loop, so a long report
 * never starves timers (a BullMQ lock renewal) even when the output keeps up.
 */
import type { Writable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  appXml,
  contentTypesXml,
  coreXml,
  type DocumentProperties,
  rootRelsXml,
  type SheetEntry,
  sheetPath,
  workbookRelsXml,
  workbookXml,
} from "./parts.js";
import { type ColumnSpec, RowEncoder, type RowValues } from "./rows.js";
import { cleanSheetName, SheetNames } from "./sheet-names.js";
import { type RowStyle, stylesXml } from "./styles.js";
import { type ZipEntry, ZipWriter } from "./zip.js";

export type { CellValue, DecimalCell } from "./cells.js";
export type { DocumentProperties } from "./parts.js";
export type { ColumnSpec, RowValues } from "./rows.js";
export type { ColumnType } from "./styles.js";

/** Excel's rows per sheet. */
export const EXCEL_MAX_ROWS = 1_048_576;
/**
 * Rows go to the zip in chunks of about this many bytes, each one deflate job. Starting a job
 * costs this thread a fixed 0.1–0.6 ms (zlib's set-up, measured), so chunks are large: at 128 KB
 * that was up to a third of this thread's time, at 512 KB under a tenth.
 *
 * The chunk is bytes, each row written into it as it comes, rather than a string the rows are
 * concatenated to: a 512 KB string is a tree of every row's pieces until it is flattened for the
 * zip, alive across several of V8's young-generation collections, so it was copied to the old
 * generation each time (most of what a general ledger promoted) and then flattened in one piece.
 */
const CHUNK_BYTES = 512 * 1024;
/** Room past CHUNK_BYTES: a row of up to a third of it (UTF-8 takes ≤ 3 bytes a UTF-16 unit) always fits. */
const CHUNK_SLACK = 96 * 1024;
/** The most rows written without a turn of the event loop. */
export const YIELD_EVERY_ROWS = 2048;

export interface XlsxWriterOptions extends DocumentProperties {
  /** Deflate level 0–9; default 6, zlib's own default. */
  compressionLevel?: number;
  /** Sizes and offsets from which ZIP64 records are written; default 4 GiB − 1, lowered only by tests. */
  zip64Above?: number;
}

export interface SheetOptions {
  /** Repaired and made unique if needed: see sheet-names.ts. */
  name: string;
  columns: readonly ColumnSpec[];
  /** Rows above the header: the report's title (first row, larger), then e.g. the filters used. */
  titleRows?: readonly (readonly (string | null | undefined)[])[];
  /** Keep the title and header rows in view while scrolling; default true. */
  freezeHeader?: boolean;
  /** Filter buttons on the header over the rows written (trailing `total` rows excepted); default true. */
  autoFilter?: boolean;
  /**
   * Rows per sheet, title and header included; default Excel's 1 048 576. A sheet that would pass
   * it continues on a new sheet, "<name> (2)", with the title and header rows repeated.
   */
  maxRows?: number;
}

export interface RowOptions {
  /** bold: the row in bold; subtotal: bold, a rule above; total: bold, a rule above, a double rule below. */
  style?: Exclude<RowStyle, "normal">;
}

export interface XlsxSheet {
  /** The name of the sheet being written now (a continuation sheet's once there is one). */
  readonly name: string;
  /** The names of this sheet and its continuation sheets so far. */
  readonly names: readonly string[];
  /** Data rows written, over all continuation sheets. */
  readonly rows: number;
  /**
   * Writes one row: an array in column order, or an object read by each column's `key`. Resolves
   * at once, or after a turn of the event loop when a chunk went to the zip, or when the output has
   * caught up if it is behind. A value that does not fit its column rejects and writes nothing of
   * the row.
   */
  addRow(values: RowValues, options?: RowOptions): Promise<void>;
  /** Closes the sheet; resolves when the zip has taken all of it. */
  end(): Promise<void>;
}

export interface XlsxWorkbook {
  /** Starts a sheet. The previous one must have ended: one sheet is written at a time. */
  addSheet(options: SheetOptions): XlsxSheet;
  /**
   * Ends the open sheet if any, writes the workbook part, relationships, content types and
   * properties, and resolves when `output` has flushed ('finish'). Rejects if the output failed.
   */
  finish(): Promise<void>;
  /** Every sheet name, in order, continuation sheets included. */
  readonly sheetNames: readonly string[];
}

const DONE: Promise<void> = Promise.resolve();

/**
 * A writer of one .xlsx to `output` (a file, an upload stream). The caller owns `output`: to give
 * up half way, destroy it; pending and later calls then reject.
 */
export function createXlsxWriter(output: Writable, options: XlsxWriterOptions): XlsxWorkbook {
  return new WorkbookWriter(output, options);
}

class WorkbookWriter implements XlsxWorkbook {
  readonly zip: ZipWriter;
  readonly entries: SheetEntry[] = [];
  readonly names = new SheetNames();
  private open: SheetWriter | undefined;
  private finishing = false;

  constructor(output: Writable, options: XlsxWriterOptions) {
    const level = options.compressionLevel ?? 6;
    if (!Number.isInteger(level) || level < 0 || level > 9) {
      throw new RangeError("compressionLevel must be 0–9");
    }
    const core = coreXml(options);
    this.zip = new ZipWriter(output, {
      level,
      mtime: options.created,
      ...(options.zip64Above === undefined ? {} : { zip64Above: options.zip64Above }),
    });
    // The parts known from the start go first; those that list the sheets are written by finish().
    this.zip.addFile("_rels/.rels", rootRelsXml());
    this.zip.addFile("docProps/core.xml", core);
    this.zip.addFile("xl/styles.xml", stylesXml());
  }

  get failure(): Error | undefined {
    return this.zip.failure;
  }

  get sheetNames(): readonly string[] {
    return this.entries.map((e) => e.name);
  }

  addSheet(options: SheetOptions): XlsxSheet {
    if (this.failure) throw this.failure;
    if (this.finishing) throw new Error("the workbook is finished: no sheet can be added");
    if (this.open) throw new Error(`sheet "${this.open.name}" is still open: end it before adding another`);
    const sheet = new SheetWriter(this, options, () => {
      this.open = undefined;
    });
    this.open = sheet;
    return sheet;
  }

  async finish(): Promise<void> {
    if (this.finishing) throw new Error("finish() was called already");
    if (this.failure) throw this.failure;
    if (this.entries.length === 0) throw new Error("a workbook needs at least one sheet");
    this.finishing = true;
    if (this.open) await this.open.end();
    const names = this.entries.map((e) => e.name);
    this.zip.addFile("xl/workbook.xml", workbookXml(this.entries));
    this.zip.addFile("xl/_rels/workbook.xml.rels", workbookRelsXml(this.entries.length));
    this.zip.addFile("docProps/app.xml", appXml(names));
    this.zip.addFile("[Content_Types].xml", contentTypesXml(this.entries.length));
    await this.zip.finish();
  }
}

/** One sheet as the caller sees it: one or more worksheet parts (continuation sheets). */
class SheetWriter implements XlsxSheet {
  readonly names: string[] = [];
  rows = 0;
  private readonly encoder: RowEncoder;
  private readonly titleRows: readonly (readonly (string | null | undefined)[])[];
  private readonly headerRow: number;
  private readonly maxRows: number;
  private readonly freezeHeader: boolean;
  private readonly autoFilter: boolean;
  private readonly baseName: string;
  private entry!: SheetEntry;
  private zipEntry!: ZipEntry;
  /** The bytes of the current chunk: `pos` of them, written into `buffer`. */
  private buffer = Buffer.allocUnsafe(CHUNK_BYTES + CHUNK_SLACK);
  private pos = 0;
  /** The last row number written in the current part. */
  private row = 0;
  /** The last row of the current part that is not a `total` row: where the autofilter ends. */
  private filterEnd = 0;
  private sinceYield = 0;
  private ended = false;

  constructor(
    private readonly wb: WorkbookWriter,
    options: SheetOptions,
    private readonly onEnd: () => void,
  ) {
    this.baseName = cleanSheetName(options.name);
    this.encoder = new RowEncoder(options.columns, () => this.name);
    this.titleRows = options.titleRows ?? [];
    this.headerRow = this.titleRows.length + 1;
    this.maxRows = options.maxRows ?? EXCEL_MAX_ROWS;
    if (!Number.isInteger(this.maxRows) || this.maxRows > EXCEL_MAX_ROWS || this.maxRows <= this.headerRow) {
      throw new RangeError(
        `maxRows must be an integer above the ${this.headerRow} title and header rows and at most ${EXCEL_MAX_ROWS}`,
      );
    }
    this.freezeHeader = options.freezeHeader ?? true;
    this.autoFilter = options.autoFilter ?? true;
    this.openPart(this.wb.names.claim(this.baseName));
  }

  get name(): string {
    return this.entry.name;
  }

  addRow(values: RowValues, options?: RowOptions): Promise<void> {
    if (this.ended) return Promise.reject(new Error(`sheet "${this.name}" has ended: no row can be added`));
    if (this.wb.failure) return Promise.reject(this.wb.failure);
    // Encode before anything changes, so a bad value leaves neither half a row nor an empty
    // continuation sheet behind.
    const full = this.row >= this.maxRows;
    const row = full ? this.headerRow + 1 : this.row + 1;
    let xml: string;
    try {
      xml = this.encoder.row(values, row, options?.style ?? "normal");
    } catch (error) {
      return Promise.reject(error);
    }
    if (full) {
      // Its failure, if any, is the zip's and rejects the next call.
      this.closePart().catch(() => {});
      this.openPart(this.wb.names.claim(this.baseName, this.names.length + 1));
    }
    // false only when the row went to the zip as a chunk of its own and the zip is full
    const roomAfterRow = this.put(xml);
    this.row = row;
    if (options?.style !== "total") this.filterEnd = row;
    this.rows++;
    if (this.pos >= CHUNK_BYTES) {
      const room = this.zipEntry.write(this.take());
      this.sinceYield = 0;
      if (!room || !roomAfterRow) return this.zipEntry.room();
      // A turn of the event loop after each chunk even when the zip has room: the deflate jobs
      // run in the thread pool and come back through callbacks on this thread, and letting them
      // in now writes their output and keeps the pool busy while the next rows are built.
      return nextTurn();
    }
    if (!roomAfterRow) return this.zipEntry.room();
    if (++this.sinceYield >= YIELD_EVERY_ROWS) {
      this.sinceYield = 0;
      return nextTurn();
    }
    return DONE;
  }

  end(): Promise<void> {
    if (this.ended) return Promise.reject(new Error(`sheet "${this.name}" has ended already`));
    this.ended = true;
    this.onEnd();
    return this.closePart();
  }

  /** Starts worksheet part `name`: its entry in the zip, then the XML up to and including the header row. */
  private openPart(name: string): void {
    const index = this.wb.entries.length;
    this.entry = { name };
    this.wb.entries.push(this.entry);
    this.names.push(name);
    this.zipEntry = this.wb.zip.openEntry(sheetPath(index));

    const h = this.headerRow;
    // CT_Worksheet (ECMA-376 part 1 §18.3.1.99) fixes the order of its children: sheetPr,
    // dimension, sheetViews, sheetFormatPr, cols, sheetData, …, autoFilter, …, pageMargins. The
    // optional <dimension> (the used range) is left out: it is known only at the end.
    const pane = this.freezeHeader
      ? `<pane ySplit="${h}" topLeftCell="A${h + 1}" activePane="bottomLeft" state="frozen"/>` +
        `<selection pane="bottomLeft" activeCell="A${h + 1}" sqref="A${h + 1}"/>`
      : "";
    let xml =
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
      '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"' +
      ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">' +
      `<sheetViews><sheetView${index === 0 ? ' tabSelected="1"' : ""} workbookViewId="0">${pane}</sheetView></sheetViews>` +
      '<sheetFormatPr defaultRowHeight="15"/>' +
      this.encoder.colsXml +
      "<sheetData>";
    this.titleRows.forEach((texts, i) => {
      xml += RowEncoder.titleRow(texts, i + 1, i === 0);
    });
    xml += this.encoder.header(h);
    this.put(xml);
    this.row = h;
    this.filterEnd = h;
  }

  /**
   * Ends the current part: the rest of its XML after the rows, and the end of its zip entry.
   * Resolves when all of it is in the output.
   */
  private closePart(): Promise<void> {
    let tail = "</sheetData>";
    if (this.autoFilter) {
      // The header and the data rows of this part (just the header when it has none). Total rows
      // at the end stay below the range, so sorting or filtering never moves a grand total into
      // the data; subtotals among the rows are inside it.
      this.entry.filterRef = `A${this.headerRow}:${this.encoder.lastColumn}${this.filterEnd}`;
      tail += `<autoFilter ref="${this.entry.filterRef}"/>`;
    }
    tail +=
      '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>';
    this.put(tail);
    return this.zipEntry.end(this.take());
  }

  /**
   * Writes `xml` into the chunk. A row too large for the room left goes after what the chunk
   * holds as a chunk of its own; false then, when the zip asks to wait before the next.
   */
  private put(xml: string): boolean {
    if (xml.length * 3 <= this.buffer.length - this.pos) {
      this.pos += this.buffer.write(xml, this.pos, "utf8");
      return true;
    }
    let room = true;
    if (this.pos > 0) room = this.zipEntry.write(this.take());
    return this.zipEntry.write(Buffer.from(xml, "utf8")) && room;
  }

  /** The chunk's bytes, handed over (the zip deflates them later): the next rows go to a new one. */
  private take(): Buffer {
    const bytes = this.buffer.subarray(0, this.pos);
    this.buffer = Buffer.allocUnsafe(CHUNK_BYTES + CHUNK_SLACK);
    this.pos = 0;
    return bytes;
  }
}
