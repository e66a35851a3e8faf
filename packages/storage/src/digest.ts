import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { PutResult } from "./storage.js";

/** Passes bytes through unchanged while counting them and computing their SHA-256. */
export class Digest extends Transform {
  private readonly hash = createHash("sha256");
  private count = 0;
  private digest: string | undefined;

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, done: TransformCallback): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
    this.hash.update(bytes);
    this.count += bytes.length;
    done(null, bytes);
  }

  override _flush(done: TransformCallback): void {
    this.digest = this.hash.digest("hex");
    done();
  }

  /** The count and hash of everything that passed; only once the input has ended. */
  result(): PutResult {
    if (this.digest === undefined) throw new Error("Digest.result() before the stream ended");
    return { bytes: this.count, sha256: this.digest };
  }
}
