import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setImmediate as yieldToLoop } from "node:timers/promises";

/** `size` deterministic pseudo-random bytes (xorshift), different for each seed. */
export function makeBytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/**
 * A byte stream of `bytes` in uneven chunks that yields to the event loop between them, as a file
 * being generated does. With `failAfter`, it errors once that many bytes have been sent.
 */
export function source(bytes: Buffer, opts: { failAfter?: number; chunk?: number } = {}): Readable {
  const chunk = opts.chunk ?? 64 * 1024;
  async function* generate() {
    let sent = 0;
    let n = 0;
    while (sent < bytes.length) {
      if (opts.failAfter !== undefined && sent >= opts.failAfter) {
        throw new Error(`workbook writer failed after ${sent} bytes`);
      }
      const size = chunk + ((n++ * 7919) % 1021); // uneven chunk sizes
      yield bytes.subarray(sent, sent + size);
      sent += size;
      await yieldToLoop();
    }
    if (opts.failAfter !== undefined) throw new Error(`workbook writer failed after ${sent} bytes`);
  }
  return Readable.from(generate(), { objectMode: false });
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under `dir`, as paths relative to it (directories left out). */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}
