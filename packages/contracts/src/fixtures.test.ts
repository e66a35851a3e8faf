import { readFileSync } from "node:fs";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { describe, expect, it } from "vitest";
import { DataChanged, queues, TokensRevoked } from "./index.js";

/*
 * Queue and job names are persisted, and jobs outlive deployments: a payload queued by the
 * version before an upgrade is consumed by the version after it. `fixtures/` keeps payloads,
 * results and pub/sub messages as released code produced them; they must keep validating against
 * today's schemas. A schema change that rejects one is a breaking change: it needs a new job name,
 * not an edited fixture.
 */
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8")) as Record<
    string,
    unknown[]
  >;

const errorsOf = (schema: TSchema, value: unknown) =>
  [...Value.Errors(schema, value)].map((e) => `${e.path || "/"}: ${e.message}`);

describe("payloads, results and messages of released versions", () => {
  for (const queue of Object.values(queues)) {
    for (const [job, definition] of Object.entries(queue.jobs)) {
      it(`${queue.name} / ${job}: every kept payload and result still validates`, () => {
        const kept = fixture(`${queue.name}.${job}.json`);
        expect(kept.payloads?.length, "at least one payload per job").toBeGreaterThan(0);
        for (const payload of kept.payloads ?? [])
          expect(errorsOf(definition.payload, payload), JSON.stringify(payload)).toEqual([]);
        for (const result of kept.results ?? [])
          expect(errorsOf(definition.result, result), JSON.stringify(result)).toEqual([]);
      });
    }
  }

  it("data-changed and tokens-revoked messages still validate", () => {
    const messages = fixture("messages.json");
    expect(messages["data-changed"]?.length).toBeGreaterThan(0);
    for (const m of messages["data-changed"] ?? []) expect(errorsOf(DataChanged, m)).toEqual([]);
    expect(messages["tokens-revoked"]?.length).toBeGreaterThan(1);
    for (const m of messages["tokens-revoked"] ?? []) expect(errorsOf(TokensRevoked, m)).toEqual([]);
  });

  it("a payload the schemas must refuse is refused (the check can fail)", () => {
    const sync = queues.etl.jobs.sync.payload;
    expect(errorsOf(sync, { mode: "sideways" })).not.toEqual([]);
    expect(errorsOf(sync, { mode: "full", extra: true })).not.toEqual([]);
  });
});
