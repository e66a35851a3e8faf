import { spawnSync } from "node:child_process";

/** The first of $PYTHON, python3, /usr/bin/python3 that can import openpyxl. */
function findPython(): string {
  const candidates = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string => !!c);
  for (const python of candidates) {
    if (spawnSync(python, ["-c", "import openpyxl"]).status === 0) return python;
  }
  throw new Error(
    `no python with openpyxl among ${candidates.join(", ")}: install python3-openpyxl or set PYTHON`,
  );
}
let python: string | undefined;

export interface PyCell {
  v: string | number | boolean;
  /** Python's type of the value: str, int, float, datetime, bool. */
  t: string;
  /** openpyxl's data type: s (text), n (number), d (date), f (formula). */
  dt: string;
  fmt: string;
  bold: boolean;
  size: number;
  top: string | null;
}
export interface PySheet {
  title: string;
  freeze: string | null;
  filter: string | null;
  widths: Record<string, number>;
  rows: (PyCell | null)[][];
}
export interface PyBook {
  sheets: PySheet[];
  props: { title: string; creator: string; subject: string | null; created: string };
  definedNames: string[];
}

// Reads every sheet with openpyxl (not read-only: freeze panes and widths are only read in full
// mode) and prints what a user of the file would see.
const READ_WITH_OPENPYXL = `
import datetime, json, re, sys, zipfile
import openpyxl
path = sys.argv[1]
wb = openpyxl.load_workbook(path)
p = wb.properties
out = {"props": {"title": p.title, "creator": p.creator, "subject": p.subject,
                 "created": p.created.isoformat() if p.created else None}, "sheets": []}
for ws in wb.worksheets:
    rows = []
    for row in ws.iter_rows():
        cells = []
        for c in row:
            if c.value is None and not c.has_style:
                cells.append(None)
                continue
            v = c.value
            if isinstance(v, (datetime.datetime, datetime.date)):
                v = v.isoformat()
            cells.append({"v": v, "t": type(c.value).__name__, "dt": c.data_type, "fmt": c.number_format,
                          "bold": bool(c.font.b), "size": c.font.sz, "top": c.border.top.style})
        rows.append(cells)
    out["sheets"].append({"title": ws.title, "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref,
                          "widths": {k: d.width for k, d in ws.column_dimensions.items()}, "rows": rows})
with zipfile.ZipFile(path) as z:
    out["definedNames"] = re.findall(r"<definedName[^>]*>[^<]*</definedName>", z.read("xl/workbook.xml").decode())
print(json.dumps(out))
`;

/** Runs a python `script` with `args` (openpyxl importable) and parses what it prints as JSON. */
export function runPython<T>(script: string, args: string[]): T {
  python ??= findPython();
  const run = spawnSync(python, ["-c", script, ...args], { encoding: "utf8", maxBuffer: 512 << 20 });
  if (run.status !== 0) throw new Error(`python failed on ${args.join(" ")}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** A workbook as openpyxl, an independent reader, sees it. */
export function readWithOpenpyxl(path: string): PyBook {
  return runPython<PyBook>(READ_WITH_OPENPYXL, [path]);
}
