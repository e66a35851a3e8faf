/**
 * The workbook's one styles part (xl/styles.xml), fixed and built once: every cell format a report
 * needs is in it up front, so writing a cell is a table look-up and nothing is collected per cell.
 *
 * Cell formats (`cellXfs`, ECMA-376 part 1 §18.8.10) are laid out as a grid: one block of
 * ROW_STYLES.length formats per cell kind, in KINDS order, so a cell's `s` index is
 * `kindIndex * 4 + rowStyleIndex`. The first kind is text and the first row style is normal, so
 * index 0 (what a cell without `s` gets) is plain text; the title and header formats follow the
 * grid.
 */

/** What a column holds; decides the number format of its cells. */
export type ColumnType = "text" | "date" | "money" | "integer" | "number" | "percent";

/** How a whole row is emphasised (totals of a report). */
export type RowStyle = "normal" | "bold" | "subtotal" | "total";

/** Decimals a money or percent format may show. */
export const MAX_DECIMALS = 6;

export const ROW_STYLES: readonly RowStyle[] = ["normal", "bold", "subtotal", "total"];

interface Kind {
  type: ColumnType;
  decimals: number;
  /** numFmtId: a built-in one (ECMA-376 §18.8.30) or a custom one declared in <numFmts>. */
  numFmtId: number;
  /** Format code of a custom numFmt; undefined for a built-in id. */
  code?: string;
}

const DECIMALS = Array.from({ length: MAX_DECIMALS + 1 }, (_, d) => d);
const fraction = (d: number) => (d === 0 ? "" : `.${"0".repeat(d)}`);

// Custom number formats start at 164 (ids below are reserved for built-in formats).
const KINDS: readonly Kind[] = [
  { type: "text", decimals: 0, numFmtId: 0 },
  { type: "integer", decimals: 0, numFmtId: 1 }, // built-in "0": no separators, ids and years read right
  { type: "number", decimals: 0, numFmtId: 0 }, // General
  { type: "date", decimals: 0, numFmtId: 164, code: "yyyy-mm-dd" },
  // Thousands separators; the negative section repeats the minus so no locale turns it into parentheses.
  ...DECIMALS.map((d) => ({
    type: "money" as const,
    decimals: d,
    numFmtId: 165 + d,
    code: `#,##0${fraction(d)};-#,##0${fraction(d)}`,
  })),
  ...DECIMALS.map((d) => ({
    type: "percent" as const,
    decimals: d,
    numFmtId: 165 + DECIMALS.length + d,
    code: `0${fraction(d)}%`,
  })),
];

const kindIndex = new Map<string, number>(KINDS.map((k, i) => [`${k.type}:${k.decimals}`, i]));

/** The `s` index of a cell of `type` (with `decimals` for money and percent) in a row of `rowStyle`. */
export function styleIndex(type: ColumnType, decimals: number, rowStyle: number): number {
  const hasDecimals = type === "money" || type === "percent";
  const kind = kindIndex.get(`${type}:${hasDecimals ? decimals : 0}`);
  if (kind === undefined) throw new RangeError(`no ${type} format with ${decimals} decimals`);
  return kind * ROW_STYLES.length + rowStyle;
}

/** The report title (first title row): bold, larger. */
export const TITLE_STYLE = KINDS.length * ROW_STYLES.length;
/** Column headers: bold on a light grey fill, a line below. */
export const HEADER_STYLE = TITLE_STYLE + 1;

// fonts: 0 regular, 1 bold, 2 bold and larger (title).
const FONTS = [
  '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>',
  '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>',
  '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font>',
];
// fills 0 and 1 are required to be none and gray125 (Excel rewrites them otherwise); 2 the header's.
const FILLS = [
  '<fill><patternFill patternType="none"/></fill>',
  '<fill><patternFill patternType="gray125"/></fill>',
  '<fill><patternFill patternType="solid"><fgColor rgb="FFD9D9D9"/><bgColor indexed="64"/></patternFill></fill>',
];
// borders: 0 none, 1 thin below (header), 2 thin above (subtotal), 3 thin above and double below (total).
const BORDERS = [
  "<border><left/><right/><top/><bottom/><diagonal/></border>",
  '<border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom><diagonal/></border>',
  '<border><left/><right/><top style="thin"><color auto="1"/></top><bottom/><diagonal/></border>',
  '<border><left/><right/><top style="thin"><color auto="1"/></top><bottom style="double"><color auto="1"/></bottom><diagonal/></border>',
];
const ROW_FONT_BORDER: Record<RowStyle, { font: number; border: number }> = {
  normal: { font: 0, border: 0 },
  bold: { font: 1, border: 0 },
  subtotal: { font: 1, border: 2 },
  total: { font: 1, border: 3 },
};

const xf = (numFmtId: number, fontId: number, fillId: number, borderId: number) =>
  `<xf numFmtId="${numFmtId}" fontId="${fontId}" fillId="${fillId}" borderId="${borderId}" xfId="0"` +
  `${numFmtId ? ' applyNumberFormat="1"' : ""}${fontId ? ' applyFont="1"' : ""}` +
  `${fillId ? ' applyFill="1"' : ""}${borderId ? ' applyBorder="1"' : ""}/>`;

/** xl/styles.xml. Element order as CT_Stylesheet requires (§18.8.39). */
export function stylesXml(): string {
  const custom = KINDS.filter((k) => k.code !== undefined);
  const xfs = KINDS.flatMap((k) =>
    ROW_STYLES.map((r) => xf(k.numFmtId, ROW_FONT_BORDER[r].font, 0, ROW_FONT_BORDER[r].border)),
  );
  xfs.push(xf(0, 2, 0, 0)); // TITLE_STYLE
  xfs.push(xf(0, 1, 2, 1)); // HEADER_STYLE
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' +
    `<numFmts count="${custom.length}">${custom
      .map((k) => `<numFmt numFmtId="${k.numFmtId}" formatCode="${k.code}"/>`)
      .join("")}</numFmts>` +
    `<fonts count="${FONTS.length}">${FONTS.join("")}</fonts>` +
    `<fills count="${FILLS.length}">${FILLS.join("")}</fills>` +
    `<borders count="${BORDERS.length}">${BORDERS.join("")}</borders>` +
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
    `<cellXfs count="${xfs.length}">${xfs.join("")}</cellXfs>` +
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>' +
    '<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium2" defaultPivotStyle="PivotStyleLight16"/>' +
    "</styleSheet>"
  );
}
