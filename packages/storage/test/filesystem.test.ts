import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFilesystemStorage, type FilesystemStorage, InvalidKeyError } from "../src/index.js";
import { listFiles, makeBytes, readAll, sha256, source } from "./helpers.js";

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

let base: string;
let dir: string;
let storage: FilesystemStorage;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "finanzas-storage-"));
  dir = join(base, "var", "reports"); // missing: the backend creates it
  storage = createFilesystemStorage({ dir });
  await storage.check();
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("filesystem storage", () => {
  it("stores a multi-megabyte stream and gives back exactly its bytes, with their count and sha256", async () => {
    const bytes = makeBytes(6 * 1024 * 1024 + 4321, 7);
    const key = "reports/2026/12/0b7e7a52-2f6b-4a86-9d2b-1f6a1c1e2d3f.xlsx";

    const result = await storage.put(key, source(bytes), { contentType: XLSX });

    expect(result).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
    const object = await storage.get(key);
    expect(object?.bytes).toBe(bytes.length);
    const read = await readAll(object!.body);
    expect(read.equals(bytes)).toBe(true);
    // The object is the file at <dir>/<key>, and no temporary file is left beside it.
    expect((await readFile(join(dir, key))).equals(bytes)).toBe(true);
    expect(await listFiles(dir)).toEqual([key]);

    await storage.delete(key);
    expect(await storage.get(key)).toBeNull();
    await storage.delete(key); // absent is fine
    await expect(listFiles(dir)).resolves.toEqual([]);
  });

  it("leaves nothing under the key, and no temporary file, when the source fails half-way", async () => {
    const key = "reports/2026/12/failed.xlsx";
    const bytes = makeBytes(4 * 1024 * 1024, 3);

    await expect(
      storage.put(key, source(bytes, { failAfter: 2 * 1024 * 1024 }), { contentType: XLSX }),
    ).rejects.toThrow(/workbook writer failed after/);

    expect(await storage.get(key)).toBeNull();
    expect(await listFiles(dir)).toEqual([]);
  });

  it("keeps the previous object when a put over it fails or is aborted", async () => {
    const key = "reports/2026/12/kept.xlsx";
    const first = makeBytes(300_000, 11);
    await storage.put(key, source(first), { contentType: XLSX });

    await expect(
      storage.put(key, source(makeBytes(3_000_000, 12), { failAfter: 1_000_000 }), { contentType: XLSX }),
    ).rejects.toThrow(/workbook writer failed/);
    const controller = new AbortController();
    const aborted = storage.put(key, source(makeBytes(3_000_000, 13), { chunk: 16 * 1024 }), {
      contentType: XLSX,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 5);
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });

    expect((await readAll((await storage.get(key))!.body)).equals(first)).toBe(true);
    expect(await listFiles(dir)).toEqual([key]);
    await storage.delete(key);
  });

  it("runs concurrent puts to different keys, and to one key, without mixing their bytes", async () => {
    const a = makeBytes(2_500_000, 21);
    const b = makeBytes(2_700_000, 22);
    const c = makeBytes(2_600_000, 23);
    const results = await Promise.all([
      storage.put("reports/2026/12/a.xlsx", source(a, { chunk: 8192 }), { contentType: XLSX }),
      storage.put("reports/2026/12/b.xlsx", source(b, { chunk: 8192 }), { contentType: XLSX }),
      storage.put("reports/2026/12/same.xlsx", source(a, { chunk: 8192 }), { contentType: XLSX }),
      storage.put("reports/2026/12/same.xlsx", source(c, { chunk: 8192 }), { contentType: XLSX }),
    ]);
    expect(results.map((r) => r.sha256)).toEqual([sha256(a), sha256(b), sha256(a), sha256(c)]);

    expect((await readAll((await storage.get("reports/2026/12/a.xlsx"))!.body)).equals(a)).toBe(true);
    expect((await readAll((await storage.get("reports/2026/12/b.xlsx"))!.body)).equals(b)).toBe(true);
    // Two writers of one key: the object is one of them whole (the last rename), never a mixture.
    const same = sha256(await readAll((await storage.get("reports/2026/12/same.xlsx"))!.body));
    expect([sha256(a), sha256(c)]).toContain(same);
    expect(await listFiles(dir)).toEqual([
      "reports/2026/12/a.xlsx",
      "reports/2026/12/b.xlsx",
      "reports/2026/12/same.xlsx",
    ]);
    for (const key of await listFiles(dir)) await storage.delete(key);
  });

  it("refuses keys that are not plain relative paths, before touching the disk", async () => {
    const bad = [
      "",
      "/etc/passwd",
      "../outside.xlsx",
      "reports/../../outside.xlsx",
      "reports/./x.xlsx",
      "reports\\2026\\x.xlsx",
      "reports//x.xlsx",
      "reports/x.xlsx/",
      "reports/informe café.xlsx",
      "reports/a b.xlsx",
      "reports/.tmp-0b7e7a52",
      ".hidden",
      "reports/x.xlsx?download",
    ];
    for (const key of bad) {
      await expect(storage.put(key, source(Buffer.from("x")), { contentType: XLSX }), key).rejects.toThrow(
        InvalidKeyError,
      );
      await expect(storage.get(key), key).rejects.toThrow(InvalidKeyError);
      await expect(storage.delete(key), key).rejects.toThrow(InvalidKeyError);
    }
    await expect(storage.get("../outside.xlsx")).rejects.toThrow(
      'invalid storage key "../outside.xlsx": it has a ".." segment',
    );
    expect(await listFiles(base)).toEqual([]);
  });

  it("never shows a temporary file a crash left behind, and sweeps old ones away", async () => {
    // What a process killed during a put leaves: a .tmp- file beside where the object would be.
    const leftDir = join(dir, "reports", "2026", "11");
    await mkdir(leftDir, { recursive: true });
    const old = join(leftDir, ".tmp-2c1f0e9a-0000-4000-8000-000000000001");
    const fresh = join(leftDir, ".tmp-2c1f0e9a-0000-4000-8000-000000000002");
    await writeFile(old, "half a workbook");
    await writeFile(fresh, "a put in progress");
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(old, twoHoursAgo, twoHoursAgo);

    await expect(storage.get("reports/2026/11/.tmp-2c1f0e9a-0000-4000-8000-000000000001")).rejects.toThrow(
      InvalidKeyError,
    );
    expect(await storage.get("reports/2026/11")).toBeNull(); // a directory is no object

    expect(await storage.sweepTemp(60 * 60 * 1000)).toBe(1);
    await expect(stat(old)).rejects.toMatchObject({ code: "ENOENT" });
    expect((await stat(fresh)).isFile()).toBe(true);

    // check() sweeps too, with its one-hour threshold, on a storage not yet swept.
    await utimes(fresh, twoHoursAgo, twoHoursAgo);
    await createFilesystemStorage({ dir }).check();
    await expect(stat(fresh)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("serves no download URL: the API streams the file", async () => {
    await expect(
      storage.downloadUrl("reports/2026/12/a.xlsx", {
        fileName: "Informe.xlsx",
        contentType: XLSX,
        expiresInSeconds: 60,
      }),
    ).resolves.toBeNull();
  });

  it("fails check() with what to fix when the directory cannot be written", async () => {
    const blocker = join(base, "not-a-directory");
    await writeFile(blocker, "");
    const broken = createFilesystemStorage({ dir: join(blocker, "reports") });
    await expect(broken.check()).rejects.toThrow(
      `cannot write to REPORTS_DIR ${join(blocker, "reports")}/ (ENOTDIR): create the directory and make it writable`,
    );
    await rm(blocker);
  });
});
