import { randomUUID } from "node:crypto";
import { createWriteStream, type Dirent } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Digest } from "./digest.js";
import {
  type PutOptions,
  type PutResult,
  type Storage,
  type StoredObject,
  validateExpiry,
  validateKey,
} from "./storage.js";

/** Files being written are named `.tmp-<uuid>` beside their final name; keys never start with ".". */
export const TEMP_PREFIX = ".tmp-";
/** A temporary file untouched for this long was left by a crash: check() removes it (hourly at most). */
export const TEMP_MAX_AGE_MS = 60 * 60 * 1000;

export interface FilesystemStorageOptions {
  /** The root directory (created if missing); relative paths resolve against the working directory. */
  dir: string;
}

export interface FilesystemStorage extends Storage {
  readonly kind: "filesystem";
  /** The absolute root directory. */
  readonly dir: string;
  /**
   * Removes temporary files (`.tmp-*`) not modified for `olderThanMs`: what a process that died
   * during a put left behind. A put in progress writes its file continually, so it is not touched.
   * Returns how many were removed.
   */
  sweepTemp(olderThanMs: number): Promise<number>;
}

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | null)?.code;

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Objects as files under one directory: `reports/2026/12/x.xlsx` is `<dir>/reports/2026/12/x.xlsx`.
 * Every replica that mounts the same directory (a shared volume) sees the same objects.
 */
export function createFilesystemStorage(options: FilesystemStorageOptions): FilesystemStorage {
  const root = resolve(options.dir);
  const pathOf = (key: string) => join(root, validateKey(key));
  let lastSweep = 0;

  async function sweepTemp(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (code(error) === "ENOENT") return;
        throw error;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          await walk(path);
        } else if (entry.name.startsWith(TEMP_PREFIX)) {
          try {
            if ((await stat(path)).mtimeMs < cutoff) {
              await unlink(path);
              removed += 1;
            }
          } catch (error) {
            if (code(error) !== "ENOENT") throw error;
          }
        }
      }
    };
    await walk(root);
    return removed;
  }

  return {
    kind: "filesystem",
    dir: root,

    async put(key: string, body: Readable, opts: PutOptions): Promise<PutResult> {
      const path = pathOf(key);
      const dir = dirname(path);
      const temp = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
      const digest = new Digest();
      try {
        await mkdir(dir, { recursive: true });
        // flush: fsync before close, so the rename below never publishes a file whose bytes are
        // still only in the page cache.
        await pipeline(body, digest, createWriteStream(temp, { flags: "wx", flush: true }), {
          signal: opts.signal,
        });
        await rename(temp, path);
      } catch (error) {
        body.destroy();
        await rm(temp, { force: true });
        throw error;
      }
      await fsyncDir(dir);
      return digest.result();
    },

    async get(key: string): Promise<StoredObject | null> {
      const path = pathOf(key);
      let handle: FileHandle;
      try {
        handle = await open(path, "r");
      } catch (error) {
        if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return null;
        throw error;
      }
      try {
        const stats = await handle.stat();
        if (!stats.isFile()) {
          await handle.close();
          return null;
        }
        return { body: handle.createReadStream(), bytes: stats.size };
      } catch (error) {
        await handle.close();
        throw error;
      }
    },

    async delete(key: string): Promise<void> {
      try {
        await unlink(pathOf(key));
      } catch (error) {
        const c = code(error);
        if (c !== "ENOENT" && c !== "ENOTDIR" && c !== "EISDIR") throw error;
      }
    },

    async downloadUrl(key: string, opts): Promise<string | null> {
      validateKey(key);
      validateExpiry(opts.expiresInSeconds);
      return null;
    },

    async check(): Promise<void> {
      const probe = join(root, `${TEMP_PREFIX}check-${randomUUID()}`);
      try {
        await mkdir(root, { recursive: true });
        const handle = await open(probe, "wx");
        try {
          await handle.writeFile("ok");
          await handle.sync();
        } finally {
          await handle.close();
        }
        await unlink(probe);
      } catch (error) {
        await rm(probe, { force: true }).catch(() => {});
        const reason = code(error) ?? (error as Error).message;
        throw new Error(
          `cannot write to REPORTS_DIR ${root}${sep} (${reason}): create the directory and make it writable ` +
            "by this service's user, or set REPORTS_DIR (or S3_BUCKET) to somewhere it can write",
          { cause: error },
        );
      }
      if (Date.now() - lastSweep >= TEMP_MAX_AGE_MS) {
        lastSweep = Date.now();
        await sweepTemp(TEMP_MAX_AGE_MS);
      }
    },

    sweepTemp,
  };
}
