/**
 * Sheet names as Excel accepts them: 1–31 characters, none of : \ / ? * [ ], not starting or
 * ending with an apostrophe, not the reserved "History", and unique in the workbook ignoring case.
 * Excel refuses to open a workbook that breaks any of these ("We found a problem with some
 * content"), so names are repaired here rather than rejected: a report names its sheets from data
 * (company names, periods such as "01/2024").
 */

export const MAX_SHEET_NAME = 31;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are not allowed in names
const FORBIDDEN = /[:\\/?*[\]\u0000-\u001F]/g;

/** Code points, so a cut never splits a surrogate pair. */
function truncate(name: string, max: number): string {
  const chars = Array.from(name);
  return chars.length <= max ? name : chars.slice(0, max).join("");
}

/** `name` with forbidden characters replaced by "-", trimmed, cut to 31 characters; "Sheet" if empty. */
export function cleanSheetName(name: string): string {
  let clean = truncate(name.replace(FORBIDDEN, "-").trim(), MAX_SHEET_NAME);
  clean = clean.replace(/^'+|'+$/g, "").trim();
  return clean === "" ? "Sheet" : clean;
}

/** The sheet names of one workbook, handing out unique ones. */
export class SheetNames {
  // "History" is reserved by Excel (change tracking): claiming it gives "History (2)".
  private readonly taken = new Set<string>(["HISTORY"]);

  /**
   * `base` itself when free (and `n` is 1), otherwise `base (n)` for the first free n ≥ 2 (or ≥ `n`),
   * `base` cut so the whole stays within 31 characters. Continuation sheets are `General ledger (2)`, `(3)`…
   */
  claim(base: string, n = 1): string {
    for (let i = n; ; i++) {
      const suffix = i === 1 ? "" : ` (${i})`;
      const name = `${truncate(base, MAX_SHEET_NAME - suffix.length).trimEnd()}${suffix}`;
      const key = name.toUpperCase();
      if (!this.taken.has(key)) {
        this.taken.add(key);
        return name;
      }
    }
  }
}

/** A sheet name as a formula reference: always quoted, apostrophes doubled ('O''Brien'!$A$1). */
export function quoteSheetName(name: string): string {
  return `'${name.replace(/'/g, "''")}'`;
}
