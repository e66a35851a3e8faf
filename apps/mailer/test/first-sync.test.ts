import { cancelMailing, countsOf } from "@finanzas/mail";
import { holdFirstSync } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createNoticeTemplate,
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
 * A mailing asked for while the first sync of what it reads is still running (models sync in
 * parallel: the partners may be there, the journal items half way) is not planned from part of the
 * books: it waits, saying for what, without using its planning's attempts, and is planned and sent
 * once those models are synced; a cancel while it waits sends nothing.
 */
let suite: MailerSuite | undefined;
let world: World;
let smtp: TestSmtp;
let partners: { id: number; email: string }[];
let templateId: string;

const MODELS = ["account.move.line", "account.partial.reconcile"];

beforeAll(async () => {
  suite = await startMailerSuite("mailer_first_sync");
  ({ world, smtp } = suite);
  partners = await partnersWithEmail(world, 3);
  templateId = await createNoticeTemplate(world);
}, 180_000);

afterAll(async () => {
  await suite?.close();
});

const mailingOf = (id: string) =>
  world.db.selectFrom("mail.mailings").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

async function waiting(id: string) {
  await until(`mailing ${id} says it waits`, async () => (await mailingOf(id)).error !== null);
  return mailingOf(id);
}

describe("a mailing asked for during the first sync", () => {
  it("waits, saying for what, without using an attempt, and is planned and sent once those models are synced", async () => {
    const { saved, restore } = await holdFirstSync(world.db, MODELS);
    expect(saved.map((c) => c.model)).toEqual(MODELS);
    try {
      const id = await startMailing(world, "custom", { templateId, partnerIds: partners.map((p) => p.id) });
      const mailing = await waiting(id);
      expect(mailing.status).toBe("planning");
      expect(mailing.error).toBe(
        "waiting for the first sync of account.move.line, account.partial.reconcile to finish (GET /api/v1/sync/state): the mailing is planned once it has",
      );
      // it keeps waiting, looking again every 200 ms here, writing nothing and using no attempt
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await mailingOf(id)).status).toBe("planning");
      expect(await messagesOf(world, id)).toEqual([]);
      // between two looks its job is delayed (it is active only for the instant of a look)
      const delayed = async () => (await (await world.producer.queue.getJob(id))!.getState()) === "delayed";
      await until("the planning job is delayed between two looks", delayed);
      const job = await world.producer.queue.getJob(id);
      expect(job!.attemptsMade).toBe(0);

      await restore();
      const done = await waitForMailing(world, id);
      expect(done.mailing.status).toBe("done");
      expect(done.mailing.error).toBeNull();
      expect(done.messages.map((m) => m.state)).toEqual(partners.map(() => "sent"));
      const emails = partners.map((p) => p.email);
      expect(smtp.received.filter((r) => r.to.some((to) => emails.includes(to))).length).toBe(
        partners.length,
      );
    } finally {
      await restore();
    }
  }, 60_000);

  it("cancelled while it waits: nothing is planned nor sent", async () => {
    const { restore } = await holdFirstSync(world.db, MODELS);
    try {
      const before = smtp.received.length;
      const id = await startMailing(world, "custom", { templateId, partnerIds: partners.map((p) => p.id) });
      await waiting(id);
      expect(await cancelMailing(world.db, id)).toBe(0);
      await restore();
      await until(
        "the planning ends",
        async () => (await world.producer.queue.getJob(id).then((j) => j?.getState())) === "completed",
      );
      expect((await mailingOf(id)).status).toBe("cancelled");
      expect(await messagesOf(world, id)).toEqual([]);
      expect(await countsOf(world.db, id)).toMatchObject({ queued: 0, sent: 0 });
      expect(smtp.received.length).toBe(before);
    } finally {
      await restore();
    }
  }, 60_000);

  it("scheduled reminders of an earlier day still waiting are cancelled by the next day's, so no customer gets the same reminder twice", async () => {
    const { restore } = await holdFirstSync(world.db, MODELS);
    try {
      const remind = async (jobId: string) => {
        await world.producer.add("run-reminders", { requestedBy: "scheduler" }, { jobId });
        await until(
          `run-reminders ${jobId} completes`,
          async () => (await world.producer.queue.getJob(jobId).then((j) => j?.getState())) === "completed",
        );
        return ((await world.producer.queue.getJob(jobId))!.returnvalue as { mailingId: string }).mailingId;
      };
      const first = await remind("reminders-day-1");
      await waiting(first);
      const second = await remind("reminders-day-2");
      expect(second).not.toBe(first);
      expect((await mailingOf(first)).status).toBe("cancelled");
      expect((await waiting(second)).status).toBe("planning");

      const before = smtp.received.length;
      await restore();
      const done = await waitForMailing(world, second);
      expect(done.mailing.status).toBe("done");
      const sent = done.messages.filter((m) => m.state === "sent");
      expect(sent.length).toBeGreaterThan(0);
      expect(await messagesOf(world, first)).toEqual([]);
      // one reminder per customer: the cancelled day's mailing sent none
      const received = smtp.received.slice(before);
      expect(received.length).toBe(sent.length);
      const recipients = received.flatMap((r) => r.to);
      expect(new Set(recipients).size).toBe(recipients.length);
    } finally {
      await restore();
    }
  }, 90_000);
});
