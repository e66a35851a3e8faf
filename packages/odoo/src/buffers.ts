/**
 * Reusable buffers for bytes that are filled, read once and dropped, page after page (an Odoo
 * answer until it is decoded, a page's COPY text until PostgreSQL has it).
 *
 * Why: Node frees a Buffer's memory only once V8 collects the small object that holds it, and V8
 * lets tens of MB of such outside-the-heap memory pile up per thread (its soft limit is 64 MB)
 * before it collects on that account. A fresh buffer of a few MB per page, living long enough to
 * leave the young generation, is garbage nobody collects for a while: in the etl-worker that was
 * 50-60 MB per thread of peak RSS. A taker gives its buffer back when done, and the next page is
 * written into it.
 *
 * Every buffer here has an ArrayBuffer of its own (offset 0, never Node's shared pool), so it can
 * be transferred to another thread and given back from there.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  /** @param keep buffers kept for reuse at most (the pages in flight at once). */
  constructor(readonly keep = 4) {}

  /** A buffer of at least `bytes` bytes; its contents are whatever was there before. */
  take(bytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = (this.free[i] as Buffer).length;
      if (size >= bytes && (best < 0 || size < (this.free[best] as Buffer).length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0] as Buffer;
    // A quarter more than asked (at most 1 MB more), in 64 KB steps: the next page of the same
    // model, slightly larger, fits the same buffer.
    const headroom = Math.min(Math.ceil(bytes / 4), 1 << 20);
    return Buffer.allocUnsafeSlow(Math.ceil((Math.max(bytes, 1) + headroom) / 65_536) * 65_536);
  }

  /**
   * Gives a buffer (or the ArrayBuffer behind one) back. Its taker must not touch it afterwards.
   * When the pool is full the smallest buffer is dropped.
   */
  give(buffer: Buffer | ArrayBuffer): void {
    // Only a whole ArrayBuffer of its own: a slice of Node's shared pool is never reused.
    if (Buffer.isBuffer(buffer) && (buffer.byteOffset !== 0 || buffer.length !== buffer.buffer.byteLength))
      return;
    const b = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer);
    if (b.length === 0) return;
    if (this.free.length < this.keep) {
      this.free.push(b);
      return;
    }
    let smallest = 0;
    for (let i = 1; i < this.free.length; i++)
      if ((this.free[i] as Buffer).length < (this.free[smallest] as Buffer).length) smallest = i;
    if ((this.free[smallest] as Buffer).length < b.length) this.free[smallest] = b;
  }

  /** Buffers held for reuse and their bytes (tests, metrics). */
  get held(): { buffers: number; bytes: number } {
    return { buffers: this.free.length, bytes: this.free.reduce((n, b) => n + b.length, 0) };
  }
}
