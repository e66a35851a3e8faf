import { describe, expect, it } from "vitest";
import { pipeline } from "../src/engine/pipeline.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the read/write pipeline", () => {
  it("a prefetch that fails while the current page is written surfaces as the pipeline's error, not an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const written: number[] = [];
      const stop = new Error("service shutting down");
      const run = pipeline<number>(
        async () => 1,
        (page) => (page < 3 ? () => (page === 2 ? Promise.reject(stop) : Promise.resolve(page + 1)) : null),
        async (page) => {
          // the write takes a while: the failed prefetch waits, unobserved, for the next round
          await tick(30);
          written.push(page);
        },
      );
      await expect(run).rejects.toBe(stop);
      await tick(10);
      expect(written).toEqual([1, 2]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("a failed write wins over the prefetch, which is abandoned quietly", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const writeError = new Error("write failed");
      const run = pipeline<number>(
        async () => 1,
        () => () => Promise.reject(new Error("prefetch failed")),
        async () => {
          await tick(20);
          throw writeError;
        },
      );
      await expect(run).rejects.toBe(writeError);
      await tick(10);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
