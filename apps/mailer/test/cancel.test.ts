import { cancelMailing, countsOf, createMailing } from "@finanzas/mail";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createNoticeTemplate,
  holdingPartnerReads,
  type MailerSuite,
  messagesOf,
  partnersWithEmail,
  startMailerSuite,
  startMailing,
  until,
  type World,
  waitForMailing,
} from "./harness.js";
import type { TestSmtp } from "./smtp.js";

/*
 * A cancelled mailing sends nothing more, whenever the cancel comes: while its planning is still
 * choosing recipients (the planning then writes them cancelled and enqueues nothing), or while one
 * of its messages is at the SMTP server and comes back with a temporary failure (it is not tried
 * again). Its messages end `cancelled` and its counts say so. A mailing whose planning fails after
 * writing its messages leaves none waiting for ever: they end `failed`, saying why.
 */

let suite: MailerSuite | undefined;
let world: World;
let smtp: TestSmtp;
let partners: { id: number; email: string }[];
let templateId: string;

beforeAll(async () => {
  suite = await startMailerSuite("mailer_cancel", { retryDelayMs: 300, attempts: 5, concurrency: 4 });
  ({ world, smtp } = suite);
  partners = await partnersWithEmail(world, 12);
  templateId = await createNoticeTemplate(world);
}, 180_000);

afterAll(async () => {
  await suite?.close();
});

beforeEach(() => {
  smtp.fault = () => undefined;
  smtp.dataDelayMs = 0;
});

const delivered = (emails: readonly string[]) =>
  smtp.received.filter((r) => r.to.some((to) => emails.includes(to))).length;

/** Waits until the mail queue has no job left to run (none waiting, delayed or active). */
const queueIdle = () =>
  until("the mail queue is idle", async () => {
    const counts = await world.producer.queue.getJobCounts(
      "waiting",
      "active",
      "delayed",
      "prioritized",
      "waiting-children",
    );
    return Object.values(counts).every((n) => n === 0);
  });

describe("cancelling a mailing", () => {
  it("while its planning is still choosing recipients: nothing is sent, every message ends cancelled", async () => {
    // The planning is held where it reads the partners (a lock on the table) until the cancel is in.
    const id = await holdingPartnerReads(world, async (waiters) => {
      const id = await startMailing(world, "custom", { templateId, partnerIds: partners.map((p) => p.id) });
      await waiters(1); // the planning waits for the partners
      // nothing is written yet: the cancel has no message to cancel
      expect(await cancelMailing(world.db, id)).toBe(0);
      return id;
    });
    await until("the planning is over", async () => {
      const state = await (await world.producer.queue.getJob(id))?.getState();
      return state === "completed" || state === "failed";
    });
    await queueIdle();
    const messages = await messagesOf(world, id);
    expect(messages.length).toBe(partners.length);
    expect(messages.every((m) => m.state === "cancelled" || m.state === "skipped")).toBe(true);
    expect(messages.filter((m) => m.state === "cancelled").length).toBeGreaterThan(0);
    const counts = await countsOf(world.db, id);
    expect(counts).toMatchObject({ queued: 0, sending: 0, sent: 0, retry: 0 });
    expect(counts.cancelled).toBe(messages.filter((m) => m.state === "cancelled").length);
    const mailing = await world.db
      .selectFrom("mail.mailings")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    expect(mailing.status).toBe("cancelled");
    expect(mailing.total).toBe(messages.length);
    expect(delivered(partners.map((p) => p.email))).toBe(0);
  });

  it("while a message is at the server and fails temporarily: it is not tried again, it ends cancelled", async () => {
    const partner = partners[0]!;
    const before = delivered([partner.email]);
    let refused = 0;
    smtp.dataDelayMs = 1_000;
    smtp.fault = (stage, to) => {
      if (stage === "data" && to === partner.email && refused === 0) {
        refused++;
        return { at: "data", code: 451, message: "4.3.0 Try again later" };
      }
      return undefined;
    };
    const id = await startMailing(world, "custom", { templateId, partnerIds: [partner.id] });
    await waitForMailing(world, id, 30_000, (states) => states.includes("sending"));
    // the message is claimed and at the server: the cancel leaves it to finish its send
    expect(await cancelMailing(world.db, id)).toBe(0);
    await until("the server refused the message once", async () => refused === 1);
    await new Promise((r) => setTimeout(r, 1_500)); // more than the retry delay
    await queueIdle();
    const [message] = await messagesOf(world, id);
    expect(message).toMatchObject({ state: "cancelled", attempts: 1 });
    expect(await countsOf(world.db, id)).toMatchObject({ cancelled: 1, retry: 0, sent: 0 });
    expect(delivered([partner.email])).toBe(before);
  });

  it("a send job never claims a message of a cancelled mailing, even one the cancel did not reach", async () => {
    // rows written queued (a dry run writes them so), then the mailing cancelled without its rows:
    // what a planning that missed the cancel left behind
    const id = await startMailing(
      world,
      "custom",
      { templateId, partnerIds: partners.slice(0, 4).map((p) => p.id) },
      { dryRun: true },
    );
    await waitForMailing(world, id);
    const queued = (await messagesOf(world, id)).filter((m) => m.state === "queued");
    expect(queued.length).toBeGreaterThan(0);
    await world.db.updateTable("mail.mailings").set({ status: "cancelled" }).where("id", "=", id).execute();
    const before = delivered(queued.map((m) => m.email!));
    await world.producer.add("send-batch", { messageIds: queued.map((m) => m.id) });
    await queueIdle();
    const after = await messagesOf(world, id);
    expect(after.filter((m) => queued.some((q) => q.id === m.id)).map((m) => m.state)).toEqual(
      queued.map(() => "cancelled"),
    );
    expect(after.every((m) => m.attempts === 0)).toBe(true);
    expect((await countsOf(world.db, id)).cancelled).toBe(queued.length);
    expect(delivered(queued.map((m) => m.email!))).toBe(before);
  });
});

describe("a planning that fails after its messages are written", () => {
  it("fails them, saying why: none stays queued, none is sent", async () => {
    // renders to more than the limit: the planning's preview fails, after the rows are written
    const huge = (
      await world.db
        .insertInto("mail.templates")
        .values({
          key: "huge",
          kind: "custom",
          lang: "es",
          name: "Demasiado",
          subject: "Demasiado",
          html: "{% for i in (1..300000) %}0123456789{% endfor %}",
        })
        .returning("id")
        .executeTakeFirstOrThrow()
    ).id;
    const emails = partners.slice(0, 3).map((p) => p.email);
    const before = delivered(emails);
    const mailing = await createMailing(world.db, {
      kind: "custom",
      params: { templateId: huge, partnerIds: partners.slice(0, 3).map((p) => p.id) },
      asOf: new Date().toISOString().slice(0, 10),
      requestedBy: null,
    });
    // one attempt: its last
    await world.producer.add("plan-mailing", { mailingId: mailing.id }, { jobId: mailing.id, attempts: 1 });
    const { mailing: failed, messages } = await waitForMailing(world, mailing.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/renders to more than|render/);
    expect(messages.length).toBe(3);
    for (const m of messages) {
      expect(m.state === "failed" || m.state === "skipped", m.state).toBe(true);
      if (m.state === "failed") expect(m.last_error).toMatch(/^not sent: the planning of its mailing failed/);
    }
    expect((await countsOf(world.db, mailing.id)).queued).toBe(0);
    await queueIdle();
    expect(delivered(emails)).toBe(before);
  });
});
