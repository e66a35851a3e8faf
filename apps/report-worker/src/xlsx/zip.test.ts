import { spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { runPython } from "@finanzas/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createXlsxWriter } from "./index.js";
import { ZipWriter } from "./zip.js";

const dir = mkdtempSync(join(tmpdir(), "xlsx-zip-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const tempFile = (ext: string) => join(dir, `file-${++files}.${ext}`);

interface PyZip {
  /** zipfile.testzip(): the first entry whose CRC or data is bad, or null. */
  bad: string | null;
  entries: { name: string; size: number; compressed: number; sha256: string; zip64: boolean }[];
  /** The end of central directory has the ZIP64 record and locator before it. */
  zip64End: boolean;
}

// Python's zipfile reads the central directory (ZIP64 included), inflates and checks every CRC.
const READ_ZIP = `
import hashlib, json, sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as z:
    bad = z.testzip()
    entries = []
    for info in z.infolist():
        data = z.read(info)
        entries.append({"name": info.filename, "size": info.file_size, "compressed": info.compress_size,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "zip64": any(info.extra[i:i+2] == b"\\x01\\x00" for i in range(0, len(info.extra), 2))})
raw = open(path, "rb").read()
print(json.dumps({"bad": bad, "entries": entries, "zip64End": raw.rfind(b"PK\\x06\\x06") > 0}))
`;

const sha256 = async (text: string) => {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(text, "utf8").digest("hex");
};

/** Text like a sheet's, in chunks: repetitive XML with varying numbers and some non-ASCII text. */
function sheetLikeChunks(count: number): string[] {
  return Array.from({ length: count }, (_, c) => {
    let xml = "";
    for (let r = 0; r < 600; r++) {
      const n = c * 600 + r;
      xml += `<row r="${n}"><c r="A${n}" t="inlineStr"><is><t>Señor ${n % 97} — ${(n * 7919) % 100_003}</t></is></c><c r="B${n}" s="5"><v>${n * 3}.25</v></c></row>`;
    }
    return xml;
  });
}

async function writeZip(path: string, chunks: string[], zip64Above?: number): Promise<void> {
  const zip = new ZipWriter(createWriteStream(path), {
    level: 6,
    mtime: new Date(2024, 4, 31, 12, 30, 10),
    ...(zip64Above === undefined ? {} : { zip64Above }),
  });
  zip.addFile("first.xml", "<a>small part</a>");
  const entry = zip.openEntry("big/sheet1.xml");
  for (const chunk of chunks) {
    if (!entry.write(chunk)) await entry.room();
  }
  const firstEnd = entry.end();
  // A second streamed entry opened while the first may still be deflating.
  const empty = zip.openEntry("big/empty.xml");
  const secondEnd = empty.end();
  zip.addFile("last.xml", "");
  await Promise.all([firstEnd, secondEnd]);
  await zip.finish();
}

describe("the zip writer", () => {
  it("writes entries that zipfile inflates with the right CRCs, the size of one deflate stream", async () => {
    const path = tempFile("zip");
    const chunks = sheetLikeChunks(40); // ~4.6 MB in blocks deflated side by side
    await writeZip(path, chunks);
    const zip = runPython<PyZip>(READ_ZIP, [path]);
    expect(zip.bad).toBeNull();
    const whole = chunks.join("");
    expect(zip.entries.map((e) => [e.name, e.size])).toEqual([
      ["first.xml", 17],
      ["big/sheet1.xml", Buffer.byteLength(whole)],
      ["big/empty.xml", 0],
      ["last.xml", 0],
    ]);
    expect(zip.entries[1]!.sha256).toBe(await sha256(whole));
    // Blocks primed with the 32 KiB before them compress as well as one stream (within 0.5%;
    // unprimed 128 KB blocks come out 1.4% larger).
    const single = deflateRawSync(Buffer.from(whole), { level: 6 }).length;
    expect(Math.abs(zip.entries[1]!.compressed - single) / single).toBeLessThan(0.005);
    expect(zip.entries.some((e) => e.zip64) || zip.zip64End).toBe(false);

    const unzip = spawnSync("unzip", ["-t", path], { encoding: "utf8" });
    if (unzip.error === undefined) expect(unzip.stdout).toContain("No errors detected");
    const listing = spawnSync("unzip", ["-l", path], { encoding: "utf8" });
    if (listing.error === undefined) expect(listing.stdout).toContain("2024-05-31 12:30");
  });

  it("writes ZIP64 records when sizes and offsets pass the limit, and they read back", async () => {
    const path = tempFile("zip");
    const chunks = sheetLikeChunks(5);
    // Every size and offset from 100 bytes on counts as past the limit, as they would past 4 GiB.
    await writeZip(path, chunks, 100);
    const zip = runPython<PyZip>(READ_ZIP, [path]);
    expect(zip.bad).toBeNull();
    expect(zip.zip64End).toBe(true);
    expect(zip.entries.map((e) => [e.name, e.zip64])).toEqual([
      ["first.xml", false],
      ["big/sheet1.xml", true],
      ["big/empty.xml", true], // its offset is past the limit
      ["last.xml", true],
    ]);
    expect(zip.entries[1]!.sha256).toBe(await sha256(chunks.join("")));
    const unzip = spawnSync("unzip", ["-t", path], { encoding: "utf8" });
    if (unzip.error === undefined) expect(unzip.stdout).toContain("No errors detected");
  });

  it("makes a workbook with ZIP64 records that openpyxl opens", async () => {
    const path = tempFile("xlsx");
    const wb = createXlsxWriter(createWriteStream(path), {
      title: "t",
      creator: "c",
      created: new Date(),
      zip64Above: 1000,
    });
    const sheet = wb.addSheet({ name: "Ledger", columns: [{ header: "N", type: "integer" }] });
    for (let n = 1; n <= 5000; n++) await sheet.addRow([n]);
    await wb.finish();
    expect(readFileSync(path).includes(Buffer.from("PK\x06\x06", "latin1"))).toBe(true);
    const read = runPython<{ sheets: string[]; last: number; rows: number }>(
      `
import json, sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1], read_only=True)["Ledger"]
rows = [r[0] for r in ws.iter_rows(values_only=True)]
print(json.dumps({"sheets": ws.parent.sheetnames, "last": rows[-1], "rows": len(rows)}))
`,
      [path],
    );
    expect(read).toEqual({ sheets: ["Ledger"], last: 5000, rows: 5001 });
  });
});
