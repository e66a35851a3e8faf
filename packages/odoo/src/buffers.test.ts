import { describe, expect, it } from "vitest";
import { BufferPool } from "./buffers.js";

describe("BufferPool", () => {
  it("gives a returned buffer to the next taker that fits, with an ArrayBuffer of its own", () => {
    const pool = new BufferPool(2);
    const first = pool.take(3_000_000);
    expect(first.length).toBeGreaterThanOrEqual(3_000_000);
    expect(first.byteOffset).toBe(0);
    expect(first.buffer.byteLength).toBe(first.length);
    pool.give(first);
    const again = pool.take(3_100_000); // a slightly larger page fits the same buffer
    expect(again).toBe(first);
    expect(pool.held).toEqual({ buffers: 0, bytes: 0 });
  });

  it("takes the smallest buffer that fits and allocates when none does", () => {
    const pool = new BufferPool(4);
    const small = pool.take(100_000);
    const large = pool.take(4_000_000);
    pool.give(large);
    pool.give(small);
    expect(pool.take(50_000)).toBe(small);
    const bigger = pool.take(8_000_000);
    expect(bigger).not.toBe(large);
    expect(bigger.length).toBeGreaterThanOrEqual(8_000_000);
    expect(pool.held.buffers).toBe(1);
  });

  it("keeps at most `keep` buffers, the largest ones", () => {
    const pool = new BufferPool(2);
    const sizes = [1, 2, 3].map((mb) => pool.take(mb * 1_000_000));
    for (const b of sizes) pool.give(b);
    expect(pool.held.buffers).toBe(2);
    expect(pool.take(1)).toBe(sizes[1]); // the 1 MB one was dropped
  });

  it("takes back an ArrayBuffer (one that travelled to another thread and back)", () => {
    const pool = new BufferPool(2);
    const own = pool.take(70_000).buffer as ArrayBuffer;
    const transferred = structuredClone(own, { transfer: [own] });
    pool.give(transferred);
    expect(pool.take(10).buffer).toBe(transferred);
  });

  it("never reuses a slice of Node's shared buffer pool", () => {
    const pool = new BufferPool(2);
    const shared = Buffer.from("small strings come from the shared pool");
    expect(shared.byteOffset > 0 || shared.buffer.byteLength > shared.length).toBe(true);
    pool.give(shared);
    expect(pool.held.buffers).toBe(0);
  });
});
