import { describe, expect, it } from "vitest";
import { pipeline } from "./pipeline.js";

describe("pipeline", () => {
  it("a page read ahead that fails while the write is under way fails the pipeline, never unhandled", async () => {
    const aborted = new Error("lost the lock on account.move");
    const written: number[] = [];
    const run = pipeline<number>(
      async () => 1,
      (page) =>
        page < 2 ? () => new Promise<number>((_, reject) => setTimeout(() => reject(aborted), 5)) : null,
      async (page) => {
        // the write outlasts the failed read-ahead by several turns of the event loop
        await new Promise((resolve) => setTimeout(resolve, 50));
        written.push(page);
      },
    );
    await expect(run).rejects.toBe(aborted);
    expect(written).toEqual([1]);
  });

  it("a failed write wins over the read-ahead", async () => {
    const failed = new Error("write failed");
    await expect(
      pipeline<number>(
        async () => 1,
        () => () => Promise.reject(new Error("read ahead")),
        async () => {
          throw failed;
        },
      ),
    ).rejects.toBe(failed);
  });
});
