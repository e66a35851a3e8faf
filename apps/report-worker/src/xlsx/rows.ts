/**
 * Rows to `<row>` elements. The column spec is compiled once per sheet into one encoder per
 * column, so writing a row is a loop of string concatenations with no look-up by name.
 *
 * Every cell carries its reference (`r="B7"`): the schema makes it optional, but readers such as
 * exceljs place cells by it alone.
 */
import {
  type CellValue,
  columnLetters,
  type DecimalCell,
  dateSerial,
  decimalText,
  describe,
  integerText,
  numberText,
  textCell,
} from "./cells.js";
import {
  type ColumnType,
  HEADER_STYLE,
  MAX_DECIMALS,
  ROW_STYLES,
  type RowStyle,
  styleIndex,
  TITLE_STYLE,
} from "./styles.js";

export interface ColumnSpec {
  /** The header cell's text. */
  header: string;
  /** The property read from a row given as an object. */
  key?: string;
  /** Width in characters of the default font (Excel's column width unit); default 12. */
  width?: number;
  type: ColumnType;
  /** Money and percent: decimals shown, 0–6 (default 2). */
  decimals?: number;
}

export type RowValues = readonly CellValue[] | Readonly<Record<string, CellValue>>;

/** Writes one cell; "" for nothing. `s` is the row style's index in ROW_STYLES. */
type CellEncoder = (value: CellValue, row: number, s: number) => string;

const DEFAULT_WIDTH = 12;

function checkDecimals(decimals: number, what: string): number {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > MAX_DECIMALS) {
    throw new RangeError(`${what}: decimals must be an integer from 0 to ${MAX_DECIMALS}, not ${decimals}`);
  }
  return decimals;
}

function isDecimalCell(value: CellValue): value is DecimalCell {
  return typeof value === "object" && value !== null && !(value instanceof Date);
}

function columnEncoder(column: ColumnSpec, index: number): CellEncoder {
  const letters = columnLetters(index);
  const open = `<c r="${letters}`;
  const sAttr = (style: number) => (style === 0 ? '"' : `" s="${style}"`);
  // The head of a cell after its row number, per row style: `" s="N"` (or `"` for style 0).
  const heads = (type: ColumnType, decimals: number) =>
    ROW_STYLES.map((_, s) => sAttr(styleIndex(type, decimals, s)));
  // Rows that are not plain (totals) get their empty cells styled too, so a total's rule runs
  // under every column; plain rows leave empty cells out.
  const empty = (h: readonly string[], row: number, s: number) => (s === 0 ? "" : `${open}${row}${h[s]}/>`);

  switch (column.type) {
    case "text": {
      const h = heads("text", 0);
      return (value, row, s) => {
        if (value === null || value === undefined) return empty(h, row, s);
        if (typeof value === "string") return textCell(`${open}${row}${h[s]}`, value) || empty(h, row, s);
        if (typeof value === "number" || typeof value === "bigint") {
          return textCell(`${open}${row}${h[s]}`, String(value));
        }
        throw new TypeError(`${describe(value)} is not text`);
      };
    }
    case "date": {
      const h = heads("date", 0);
      // Reports run in date order: the previous value's serial is reused for the same date.
      let lastText: string | undefined;
      let lastSerial = 0;
      return (value, row, s) => {
        if (value === null || value === undefined) return empty(h, row, s);
        if (typeof value === "string" && value === lastText) {
          return `${open}${row}${h[s]}><v>${lastSerial}</v></c>`;
        }
        const serial = dateSerial(value);
        if (typeof value === "string") {
          lastText = value;
          lastSerial = serial;
        }
        return `${open}${row}${h[s]}><v>${serial}</v></c>`;
      };
    }
    case "money":
    case "percent": {
      const type = column.type;
      const decimals = checkDecimals(column.decimals ?? 2, `column "${column.header}"`);
      const byDecimals = Array.from({ length: MAX_DECIMALS + 1 }, (_, d) => heads(type, d));
      const h = byDecimals[decimals]!;
      return (value, row, s) => {
        if (value === null || value === undefined) return empty(h, row, s);
        if (typeof value === "string") return `${open}${row}${h[s]}><v>${decimalText(value)}</v></c>`;
        if (isDecimalCell(value)) {
          // The cell's own decimals: checked here, described only when they are wrong (a
          // description per cell was a JSON.stringify of every amount of a report).
          const own =
            (Number.isInteger(value.decimals) ? byDecimals[value.decimals] : undefined) ??
            byDecimals[checkDecimals(value.decimals, describe(value))]!;
          if (typeof value.value !== "string") {
            throw new TypeError(`${describe(value)}: value must be a decimal string`);
          }
          return `${open}${row}${own[s]}><v>${decimalText(value.value)}</v></c>`;
        }
        if (type === "percent" && (typeof value === "number" || typeof value === "bigint")) {
          return `${open}${row}${h[s]}><v>${numberText(value)}</v></c>`;
        }
        // A float would have been rounded on its way here: amounts come as the database's text.
        throw new TypeError(
          `${describe(value)} is not a decimal string (money is passed as exact text such as "-1234.50")`,
        );
      };
    }
    case "integer":
    case "number": {
      const h = heads(column.type, 0);
      const text = column.type === "integer" ? integerText : numberText;
      return (value, row, s) => {
        if (value === null || value === undefined) return empty(h, row, s);
        return `${open}${row}${h[s]}><v>${text(value)}</v></c>`;
      };
    }
    default:
      throw new TypeError(`column "${column.header}": unknown type ${JSON.stringify(column.type)}`);
  }
}

/** A sheet's columns, compiled. */
export class RowEncoder {
  readonly lastColumn: string;
  readonly colsXml: string;
  private readonly encoders: CellEncoder[];
  private readonly keys: (string | undefined)[];
  private readonly headerCells: string[];

  constructor(
    private readonly columns: readonly ColumnSpec[],
    private readonly sheetName: () => string,
  ) {
    if (columns.length === 0) throw new RangeError("a sheet needs at least one column");
    if (columns.length > 16_384) throw new RangeError(`${columns.length} columns: Excel allows 16 384`);
    this.encoders = columns.map(columnEncoder);
    this.keys = columns.map((c) => c.key);
    this.lastColumn = columnLetters(columns.length - 1);
    this.headerCells = columns.map((_, i) => `<c r="${columnLetters(i)}`);
    // <cols> (§18.3.1.13): widths in characters of the default font's digit.
    this.colsXml = `<cols>${columns
      .map((c, i) => {
        const width = c.width ?? DEFAULT_WIDTH;
        if (!(width > 0 && width <= 255)) {
          throw new RangeError(`column "${c.header}": width must be in (0, 255]`);
        }
        return `<col min="${i + 1}" max="${i + 1}" width="${width}" customWidth="1"/>`;
      })
      .join("")}</cols>`;
  }

  /** One data row as `<row>`. */
  row(values: RowValues, row: number, style: RowStyle): string {
    const s = ROW_STYLES.indexOf(style);
    if (s < 0) throw new TypeError(`unknown row style ${JSON.stringify(style)}`);
    let xml = `<row r="${row}">`;
    let i = 0;
    try {
      if (Array.isArray(values)) {
        const list = values as readonly CellValue[];
        if (list.length > this.encoders.length) {
          throw new RangeError(`${list.length} values for ${this.encoders.length} columns`);
        }
        for (; i < this.encoders.length; i++) xml += this.encoders[i]!(list[i], row, s);
      } else {
        const record = values as Readonly<Record<string, CellValue>>;
        for (; i < this.encoders.length; i++) {
          const key = this.keys[i];
          if (key === undefined) throw new TypeError("a row given as an object needs a key on every column");
          xml += this.encoders[i]!(record[key], row, s);
        }
      }
    } catch (error) {
      const column = this.columns[i];
      const where = column ? `, column "${column.header}"` : "";
      throw new (error instanceof RangeError ? RangeError : TypeError)(
        `sheet "${this.sheetName()}" row ${row}${where}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return `${xml}</row>`;
  }

  /** The header row: each column's header in the header style. */
  header(row: number): string {
    let xml = `<row r="${row}">`;
    for (let i = 0; i < this.columns.length; i++) {
      xml +=
        textCell(`${this.headerCells[i]}${row}" s="${HEADER_STYLE}"`, this.columns[i]!.header) ||
        `${this.headerCells[i]}${row}" s="${HEADER_STYLE}"/>`;
    }
    return `${xml}</row>`;
  }

  /** A title row (report title, the filters used): text from column A on; the first is larger. */
  static titleRow(texts: readonly (string | null | undefined)[], row: number, first: boolean): string {
    let cells = "";
    texts.forEach((text, i) => {
      if (text === null || text === undefined) return;
      cells += textCell(
        `<c r="${columnLetters(i)}${row}"${first ? ` s="${TITLE_STYLE}"` : ""}`,
        String(text),
      );
    });
    return cells === "" ? "" : `<row r="${row}">${cells}</row>`;
  }
}
