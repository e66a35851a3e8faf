import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  holdingPartnerReads,
  type MailerSuite,
  startMailerSuite,
  startMailing,
  type World,
  waitForMailing,
} from "./harness.js";
import type { TestSmtp } from "./smtp.js";

/*
 * Two reminder mailings planned at the same moment (the scheduler's and a user's, or several that
 * waited for the first sync) both choose their recipients before either has written one: without
 * more, each customer would get the same reminder from both. Their outboxes are written one after
 * the other, the second looking again at what the first queued.
 */
let suite: MailerSuite | undefined;
let world: World;
let smtp: TestSmtp;

beforeAll(async () => {
  suite = await startMailerSuite("mailer_concurrent_reminders", { concurrency: 4 });
  ({ world, smtp } = suite);
}, 180_000);

afterAll(async () => {
  await suite?.close();
});

describe("two reminder mailings planned at once", () => {
  it("send each customer its reminder once: the second skips those the first has queued, saying so", async () => {
    // Both plannings are held where they read the partners until both are there.
    const ids = await holdingPartnerReads(world, async (waiters) => {
      const ids = [await startMailing(world, "reminder"), await startMailing(world, "reminder")];
      await waiters(2);
      return ids;
    });
    const [a, b] = await Promise.all(ids.map((id) => waitForMailing(world, id)));
    const sent = [...a!.messages, ...b!.messages].filter((m) => m.state === "sent");
    expect(sent.length).toBeGreaterThan(0);
    // each customer once, across both mailings, and the server got exactly those
    const partners = sent.map((m) => m.partner_id);
    expect(new Set(partners).size).toBe(partners.length);
    const recipients = smtp.received.flatMap((r) => r.to);
    expect(recipients.length).toBe(sent.length);
    expect(new Set(recipients).size).toBe(recipients.length);
    // whoever the one mailing reminded, the other skipped, saying why
    for (const [mine, other] of [
      [a!, b!],
      [b!, a!],
    ] as const) {
      const theirs = new Set(other.messages.filter((m) => m.state === "sent").map((m) => m.partner_id));
      for (const m of mine.messages.filter((m) => theirs.has(m.partner_id))) {
        expect(m.state).toBe("skipped");
        expect(m.skip_reason).toMatch(
          /^reminder level \d already sent on \d{4}-\d{2}-\d{2} \(within 7 days\)$/,
        );
      }
    }
  }, 90_000);
});
