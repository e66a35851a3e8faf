import { spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type PyBook, readWithOpenpyxl } from "@finanzas/testing";
import ExcelJS from "exceljs";
import { afterAll, describe, expect, it } from "vitest";
import { type ColumnSpec, createXlsxWriter, type XlsxWorkbook } from "./index.js";
import { YIELD_EVERY_ROWS } from "./writer.js";

const dir = mkdtempSync(join(tmpdir(), "xlsx-writer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const tempFile = () => join(dir, `book-${++files}.xlsx`);

const created = new Date("2024-05-31T14:15:16Z");

const LEDGER_COLUMNS: ColumnSpec[] = [
  { header: "Date", key: "date", type: "date", width: 11 },
  { header: "Entry", key: "entry", type: "text", width: 18 },
  { header: "Label", key: "label", type: "text", width: 40 },
  { header: "Debit", key: "debit", type: "money", width: 14.5 },
  { header: "Credit JPY", key: "creditJpy", type: "money", decimals: 0, width: 14 },
  { header: "Amount in currency", key: "amountCurrency", type: "money", width: 16 },
  { header: "Days", key: "days", type: "integer", width: 6 },
  { header: "Rate", key: "rate", type: "number" },
  { header: "Share", key: "share", type: "percent", decimals: 1 },
];

/** A small general ledger: every cell type, the texts that must stay text, and a total row. */
async function writeLedger(path: string): Promise<void> {
  const wb = createXlsxWriter(createWriteStream(path), {
    title: "General ledger 2024",
    creator: "Finanzas reports",
    created,
    subject: "ACME S.A. — January 2024",
  });
  const sheet = wb.addSheet({
    name: "General ledger",
    columns: LEDGER_COLUMNS,
    titleRows: [["General ledger"], ["Company: ACME S.A.", "Period: 2024-01-01 – 2024-01-31"]],
  });
  expect(sheet.name).toBe("General ledger");
  await sheet.addRow({
    date: "2024-01-31",
    entry: '=HYPERLINK("http://evil.example","click")',
    label: "Bell\u0007 and NUL\u0000 removed; tab\tand newline\nkept",
    debit: "-1234.5",
    creditJpy: "1500000",
    amountCurrency: { value: "12.345", decimals: 3 },
    days: 30,
    rate: 1.0825,
    share: 0.125,
  });
  await sheet.addRow([
    new Date("2024-02-29T23:30:00Z"),
    "+1",
    "-2",
    "123456789012.34",
    "0",
    "100.10",
    -5,
    "1e3",
    "0.5",
  ]);
  await sheet.addRow(["1900-03-01", "@x", "  leading and trailing  ", "0.01", null, null, null, null, null]);
  await sheet.addRow(["2024-01-15", "Ünïcødé 😀 <&> \"q\" 'a'", null, "42", "-7", "3", 0, -0.5, 1]);
  await sheet.addRow({ entry: "Total", debit: "123456789012.34", creditJpy: "1499993" }, { style: "total" });
  await sheet.end();

  const aging = wb.addSheet({
    name: "Aged balance: 2024/01",
    columns: [
      { header: "Partner", type: "text", width: 30 },
      { header: "Open", type: "money" },
    ],
    freezeHeader: false,
    autoFilter: false,
  });
  await aging.addRow(["ACME", "10.00"]);
  await aging.addRow(["Subtotal", "10.00"], { style: "subtotal" });
  await aging.addRow(["Beta", "5"], { style: "bold" });
  await wb.finish();
}

describe("the xlsx writer read back by openpyxl", () => {
  const path = tempFile();
  let book: PyBook;
  it("writes a workbook openpyxl opens", async () => {
    await writeLedger(path);
    book = readWithOpenpyxl(path);
    expect(book.sheets.map((s) => s.title)).toEqual(["General ledger", "Aged balance- 2024-01"]);
  });

  it("keeps the document properties", () => {
    expect(book.props).toEqual({
      title: "General ledger 2024",
      creator: "Finanzas reports",
      subject: "ACME S.A. — January 2024",
      created: "2024-05-31T14:15:16",
    });
  });

  it("writes title rows, a styled header, a frozen pane, an autofilter and the column widths", () => {
    const gl = book.sheets[0]!;
    const [title, filters, header] = gl.rows;
    expect(title![0]).toMatchObject({ v: "General ledger", bold: true, size: 14 });
    expect(filters!.slice(0, 2).map((c) => c?.v)).toEqual([
      "Company: ACME S.A.",
      "Period: 2024-01-01 – 2024-01-31",
    ]);
    expect(filters![0]).toMatchObject({ bold: false });
    expect(header!.map((c) => c?.v)).toEqual(LEDGER_COLUMNS.map((c) => c.header));
    expect(header!.every((c) => c?.bold)).toBe(true);
    expect(gl.freeze).toBe("A4");
    // The grand total below the last data row is left out of the filter range.
    expect(gl.filter).toBe("A3:I7");
    expect(book.definedNames).toEqual([
      '<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">\'General ledger\'!$A$3:$I$7</definedName>',
    ]);
    expect(gl.widths).toMatchObject({ A: 11, B: 18, C: 40, D: 14.5, E: 14, F: 16, G: 6, H: 12, I: 12 });

    const aging = book.sheets[1]!;
    expect(aging.freeze).toBeNull();
    expect(aging.filter).toBeNull();
  });

  it("writes dates as dates, money as numbers in the column's or the cell's decimals, text as text", () => {
    const [first, second, third, fourth] = book.sheets[0]!.rows.slice(3);
    expect(first![0]).toMatchObject({ v: "2024-01-31T00:00:00", t: "datetime", fmt: "yyyy-mm-dd" });
    expect(first![3]).toMatchObject({ v: -1234.5, t: "float", fmt: "#,##0.00;-#,##0.00" });
    expect(first![4]).toMatchObject({ v: 1500000, t: "int", fmt: "#,##0;-#,##0" });
    expect(first![5]).toMatchObject({ v: 12.345, fmt: "#,##0.000;-#,##0.000" });
    expect(first![6]).toMatchObject({ v: 30, t: "int", fmt: "0" });
    expect(first![7]).toMatchObject({ v: 1.0825, fmt: "General" });
    expect(first![8]).toMatchObject({ v: 0.125, fmt: "0.0%" });
    // A Date counts by its UTC calendar day; a value with a time keeps only the date.
    expect(second![0]).toMatchObject({ v: "2024-02-29T00:00:00", t: "datetime" });
    expect(second![3]).toMatchObject({ v: 123456789012.34 });
    expect(second![7]).toMatchObject({ v: 1000 });
    expect(third![0]).toMatchObject({ v: "1900-03-01T00:00:00" });
    expect(third![4]).toBeNull();
    expect(fourth![6]).toMatchObject({ v: 0, t: "int" });
  });

  it("never turns text into a formula and drops characters XML cannot hold", () => {
    const [first, second, third, fourth] = book.sheets[0]!.rows.slice(3);
    expect(first![1]).toMatchObject({ v: '=HYPERLINK("http://evil.example","click")', t: "str", dt: "s" });
    expect(second![1]).toMatchObject({ v: "+1", t: "str", dt: "s" });
    expect(second![2]).toMatchObject({ v: "-2", t: "str", dt: "s" });
    expect(third![1]).toMatchObject({ v: "@x", t: "str", dt: "s" });
    expect(first![2]!.v).toBe("Bell and NUL removed; tab\tand newline\nkept");
    expect(third![2]!.v).toBe("  leading and trailing  ");
    expect(fourth![1]!.v).toBe("Ünïcødé 😀 <&> \"q\" 'a'");
  });

  it("styles total, subtotal and bold rows over every column", () => {
    const total = book.sheets[0]!.rows[7]!;
    expect(total.map((c) => c?.bold)).toEqual(Array(9).fill(true));
    expect(total[1]).toMatchObject({ v: "Total", bold: true, top: "thin" });
    expect(total[3]).toMatchObject({ v: 123456789012.34, fmt: "#,##0.00;-#,##0.00", bold: true });
    expect(total[0]).toMatchObject({ v: null, fmt: "yyyy-mm-dd", top: "thin" });
    const aging = book.sheets[1]!.rows;
    expect(aging[1]!.map((c) => [c?.v, c?.bold])).toEqual([
      ["ACME", false],
      [10, false],
    ]);
    expect(aging[2]!.map((c) => [c?.v, c?.bold, c?.top])).toEqual([
      ["Subtotal", true, "thin"],
      [10, true, "thin"],
    ]);
    expect(aging[3]!.map((c) => [c?.v, c?.bold, c?.top])).toEqual([
      ["Beta", true, null],
      [5, true, null],
    ]);
  });
});

describe("the xlsx writer read back by exceljs", () => {
  it("gives dates, numbers with their formats, text, frozen views, autofilter and properties", async () => {
    const path = tempFile();
    await writeLedger(path);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path);
    expect(wb.worksheets.map((w) => w.name)).toEqual(["General ledger", "Aged balance- 2024-01"]);
    expect(wb.title).toBe("General ledger 2024");
    expect(wb.creator).toBe("Finanzas reports");
    expect(wb.created.toISOString()).toBe("2024-05-31T14:15:16.000Z");
    const ws = wb.getWorksheet("General ledger")!;
    expect(ws.getCell("A1").value).toBe("General ledger");
    expect(ws.getCell("A1").font.bold).toBe(true);
    expect(ws.getCell("A3").value).toBe("Date");
    expect((ws.getCell("A4").value as Date).toISOString()).toBe("2024-01-31T00:00:00.000Z");
    expect(ws.getCell("A4").numFmt).toBe("yyyy-mm-dd");
    expect(ws.getCell("B4").type).toBe(ExcelJS.ValueType.String);
    expect(ws.getCell("B4").value).toBe('=HYPERLINK("http://evil.example","click")');
    expect(ws.getCell("D4").value).toBe(-1234.5);
    expect(ws.getCell("D4").numFmt).toBe("#,##0.00;-#,##0.00");
    expect(ws.getCell("F4").numFmt).toBe("#,##0.000;-#,##0.000");
    expect(ws.getCell("B8").value).toBe("Total");
    expect(ws.getCell("D8").font.bold).toBe(true);
    expect(ws.views[0]).toMatchObject({ state: "frozen", ySplit: 3 });
    expect(ws.autoFilter).toBe("A3:I7");
    expect(ws.getColumn(3).width).toBe(40);
  });
});

/** The data rows of every sheet after the title and header rows, as their first cell's values. */
const dataRows = (book: PyBook, skip: number) => book.sheets.flatMap((s) => s.rows.slice(skip));

describe("continuation sheets", () => {
  it("go on past maxRows on sheets named '<name> (n)' with title and header repeated, no row lost or doubled", async () => {
    const path = tempFile();
    const wb = createXlsxWriter(createWriteStream(path), { title: "GL", creator: "test", created });
    const longName = "General ledger of ACME Holdings"; // 31 characters
    const sheet = wb.addSheet({
      name: longName,
      columns: [
        { header: "N", type: "integer" },
        { header: "Amount", type: "money" },
      ],
      titleRows: [["General ledger"], ["Period: 2024"]],
      maxRows: 8, // 2 title rows + header + 5 data rows per sheet
    });
    for (let n = 1; n <= 23; n++) await sheet.addRow([n, `${n}.00`]);
    await sheet.end();
    // A later sheet may not take a continuation sheet's name.
    const next = wb.addSheet({
      name: "general ledger of acme holdings (2)",
      columns: [{ header: "x", type: "text" }],
    });
    await next.end();
    await wb.finish();
    expect(sheet.rows).toBe(23);

    const book = readWithOpenpyxl(path);
    const names = book.sheets.map((s) => s.title);
    expect(names).toEqual([
      longName,
      "General ledger of ACME Hold (2)",
      "General ledger of ACME Hold (3)",
      "General ledger of ACME Hold (4)",
      "General ledger of ACME Hold (5)",
      "general ledger of acme hold (6)",
    ]);
    expect(names.every((n) => n.length <= 31)).toBe(true);
    expect(sheet.names).toEqual(names.slice(0, 5));
    for (const s of book.sheets.slice(0, 5)) {
      expect(s.rows.slice(0, 3).map((r) => r[0]?.v)).toEqual(["General ledger", "Period: 2024", "N"]);
      expect(s.freeze).toBe("A4");
    }
    expect(book.sheets.slice(0, 5).map((s) => s.filter)).toEqual([
      "A3:B8",
      "A3:B8",
      "A3:B8",
      "A3:B8",
      "A3:B6",
    ]);
    expect(book.definedNames).toHaveLength(6);
    const numbers = dataRows({ ...book, sheets: book.sheets.slice(0, 5) }, 3).map((r) => r[0]?.v);
    expect(numbers).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
  });

  it("does not open an empty continuation sheet when the last sheet is exactly full", async () => {
    const path = tempFile();
    const wb = createXlsxWriter(createWriteStream(path), { title: "GL", creator: "test", created });
    const sheet = wb.addSheet({ name: "Ledger", columns: [{ header: "N", type: "integer" }], maxRows: 3 });
    for (let n = 1; n <= 4; n++) await sheet.addRow([n]);
    await wb.finish(); // ends the open sheet
    const book = readWithOpenpyxl(path);
    expect(book.sheets.map((s) => s.title)).toEqual(["Ledger", "Ledger (2)"]);
    expect(dataRows(book, 1).map((r) => r[0]?.v)).toEqual([1, 2, 3, 4]);
  });
});

describe("long rows", () => {
  it("keeps rows of many KB (multi-byte text) whole and in order among short ones", async () => {
    // Cells at Excel's limit in three-byte characters: rows larger than the room a chunk keeps for
    // one, written when the chunk is empty, half full and nearly full.
    const long = (n: number) => `${n}:${"€—ü".repeat(10_900)}`.slice(0, 32_767);
    const path = tempFile();
    const wb = createXlsxWriter(createWriteStream(path), { title: "t", creator: "c", created });
    const sheet = wb.addSheet({
      name: "Long",
      columns: [
        { header: "N", type: "integer" },
        { header: "A", type: "text" },
        { header: "B", type: "text" },
      ],
    });
    const expected: [number, string | null, string | null][] = [];
    for (let n = 1; n <= 240; n++) {
      const row: [number, string | null, string | null] =
        n % 40 === 1 || n % 40 === 17 || n % 40 === 39 ? [n, long(n), long(-n)] : [n, `short ${n}`, null];
      expected.push(row);
      await sheet.addRow(row);
    }
    await wb.finish();
    const rows = readWithOpenpyxl(path)
      .sheets[0]!.rows.slice(1)
      .map((r) => [r[0]?.v ?? null, r[1]?.v ?? null, r[2]?.v ?? null]);
    expect(rows).toEqual(expected);
  });
});

describe("bad values", () => {
  it("reject the row with the sheet, row and column named, and write nothing of it", async () => {
    const path = tempFile();
    const wb = createXlsxWriter(createWriteStream(path), { title: "t", creator: "c", created });
    const sheet = wb.addSheet({
      name: "Invoices",
      columns: [
        { header: "Invoice", type: "text" },
        { header: "Date", type: "date" },
        { header: "Total", type: "money" },
      ],
    });
    await sheet.addRow(["INV/1", "2024-01-01", "1.00"]);
    await expect(sheet.addRow(["INV/2", "2024-01-01", 1.1 as unknown as string])).rejects.toThrow(
      /sheet "Invoices" row 3, column "Total": 1.1 is not a decimal string/,
    );
    await expect(sheet.addRow(["INV/2", "2024-02-30", "1.00"])).rejects.toThrow(
      /row 3, column "Date": "2024-02-30" is not a date/,
    );
    await expect(sheet.addRow(["INV/2", "2024-02-01", "1,00"])).rejects.toThrow(
      /"1,00" is not a decimal number/,
    );
    await expect(sheet.addRow(["INV/2", "2024-02-01", { value: "1.5", decimals: 7 }])).rejects.toThrow(
      /decimals must be an integer from 0 to 6/,
    );
    await sheet.addRow(["INV/3", "2024-01-02", "3.00"]);
    await wb.finish();
    const rows = readWithOpenpyxl(path).sheets[0]!.rows;
    expect(rows.map((r) => r[0]?.v)).toEqual(["Invoice", "INV/1", "INV/3"]);
  });
});

/** A Writable that holds every write until released; counts the bytes it was given. */
function stalledOutput() {
  const held: (() => void)[] = [];
  let stalled = true;
  const chunks: Buffer[] = [];
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      if (stalled) held.push(callback);
      else callback();
    },
  });
  return {
    stream,
    chunks,
    release() {
      stalled = false;
      for (const callback of held.splice(0)) callback();
    },
  };
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rows of text that deflate poorly, so the zip's buffers fill in few rows. */
const noise = () => Math.random().toString(36).slice(2);
const noisyRow = (n: number) => [n, `${n}`.repeat(3), noise() + noise() + noise() + noise()];
const noisyColumns: ColumnSpec[] = [
  { header: "N", type: "integer" },
  { header: "Ref", type: "text" },
  { header: "Noise", type: "text" },
];

describe("back-pressure and the event loop", () => {
  it("addRow waits while the output is stalled, with little written ahead, and goes on when it drains", async () => {
    const out = stalledOutput();
    const path = tempFile();
    const wb = createXlsxWriter(out.stream, { title: "t", creator: "c", created });
    const sheet = wb.addSheet({ name: "Big", columns: noisyColumns });
    let n = 0;
    let pending: Promise<void> | undefined;
    while (n < 200_000) {
      const write = sheet.addRow(noisyRow(++n));
      if (!(await settlesWithin(write, 200))) {
        pending = write;
        break;
      }
    }
    expect(pending, "addRow never waited for the stalled output").toBeDefined();
    // About 150 bytes of XML per row: what waits in memory is a few MB (the zip's pending blocks
    // of 512 KB and the chunk being built), not the sheet.
    expect(n).toBeLessThan(40_000);
    const stalledAt = n;
    out.release();
    await pending;
    while (n < stalledAt + 5_000) await sheet.addRow(noisyRow(++n));
    await wb.finish();

    const file = createWriteStream(path);
    for (const chunk of out.chunks) file.write(chunk);
    await new Promise((resolve) => file.end(resolve));
    const rows = readWithOpenpyxl(path).sheets[0]!.rows;
    expect(rows).toHaveLength(n + 1);
    expect(rows.at(-1)![0]!.v).toBe(n);
  });

  it("lets timers run every few thousand rows even when the output never pushes back", async () => {
    // An output that takes everything at once, and no compression: nothing in the pipeline waits,
    // so only addRow's own yields let the timer in.
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const wb = createXlsxWriter(sink, { title: "t", creator: "c", created, compressionLevel: 0 });
    const sheet = wb.addSheet({ name: "Fast", columns: [{ header: "N", type: "integer" }] });
    const firedAt: number[] = [];
    let n = 0;
    const timer = setInterval(() => firedAt.push(n), 0);
    for (; n < 100_000; n++) await sheet.addRow([n]);
    clearInterval(timer);
    await wb.finish();
    // Rows written between two runs of the timer: a batch of YIELD_EVERY_ROWS or two (a batch can
    // take less than the timer's 1 ms). Without the yields the only pause would be the zip's queue
    // of pending blocks filling up, every ~10 000 rows here.
    // On a loaded machine a few yields can pass within the timer's millisecond: judge the typical gap
    // (the median) and the count, not the single longest one.
    const gaps = [...firedAt, n].map((at, i) => at - (firedAt[i - 1] ?? 0)).sort((x, y) => x - y);
    expect(firedAt.length).toBeGreaterThanOrEqual(20);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThanOrEqual(2 * YIELD_EVERY_ROWS);
  });

  it("rejects pending and later calls when the output is destroyed half way", async () => {
    const out = stalledOutput();
    const wb: XlsxWorkbook = createXlsxWriter(out.stream, { title: "t", creator: "c", created });
    const sheet = wb.addSheet({ name: "Big", columns: noisyColumns });
    let n = 0;
    let pending: Promise<void> | undefined;
    while (!pending) {
      const write = sheet.addRow(noisyRow(++n));
      if (!(await settlesWithin(write, 100))) pending = write;
    }
    out.stream.destroy(new Error("disk full"));
    await expect(pending).rejects.toThrow("disk full");
    await expect(sheet.addRow(noisyRow(++n))).rejects.toThrow("disk full");
    await expect(wb.finish()).rejects.toThrow("disk full");
  });
});

describe("LibreOffice", () => {
  const soffice = ["soffice", "libreoffice"].find((bin) => spawnSync(bin, ["--version"]).status === 0);
  it.skipIf(!soffice)("opens the workbook and shows the values as formatted", async () => {
    const path = tempFile();
    await writeLedger(path);
    // A literal "_x0041_" in text, which Excel and LibreOffice would read as "A" unescaped.
    const escapes = tempFile();
    const wb = createXlsxWriter(createWriteStream(escapes), { title: "t", creator: "c", created });
    const sheet = wb.addSheet({ name: "Escapes", columns: [{ header: "Ref", type: "text" }] });
    await sheet.addRow(["FAC_x0041_2024"]);
    await wb.finish();
    // CSV of the first sheet: comma-separated, UTF-8 (76), cells as shown (the last token).
    const filter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true";
    const run = spawnSync(soffice!, ["--headless", "--convert-to", filter, "--outdir", dir, path, escapes], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const lines = readFileSync(path.replace(/\.xlsx$/, ".csv"), "utf8").split("\n");
    expect(lines[0]).toBe("General ledger,,,,,,,,");
    expect(lines[2]).toBe("Date,Entry,Label,Debit,Credit JPY,Amount in currency,Days,Rate,Share");
    expect(lines[3]).toBe(
      '2024-01-31,"=HYPERLINK(""http://evil.example"",""click"")","Bell and NUL removed; tab\tand newline',
    );
    expect(lines[4]).toBe('kept","-1,234.50","1,500,000",12.345,30,1.0825,12.5%');
    expect(lines[5]).toBe('2024-02-29,+1,-2,"123,456,789,012.34",0,100.10,-5,1000,50.0%');
    expect(lines[7]).toBe(`2024-01-15,"Ünïcødé 😀 <&> ""q"" 'a'",,42.00,-7,3.00,0,-0.5,100.0%`);
    expect(lines[8]).toBe(',Total,,"123,456,789,012.34","1,499,993",,,,');
    expect(readFileSync(escapes.replace(/\.xlsx$/, ".csv"), "utf8")).toBe("Ref\nFAC_x0041_2024\n");
  });
});
