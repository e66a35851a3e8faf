import { mailQueue } from "@finanzas/contracts";
import { requeueForResend, sendJobId } from "@finanzas/mail";
import { createProducer, createRedis } from "@finanzas/queue";
import { holdFirstSync, type RedisInstance, startRedis } from "@finanzas/testing";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRecovery } from "../src/recovery.js";
import { createSendQueue, type SendQueue } from "../src/send-queue.js";
import {
  createNoticeTemplate,
  logger,
  messagesOf,
  partnersWithEmail,
  type RunningMailer,
  startMailer,
  startMailing,
  startWorld,
  until,
  type World,
  waitForMailing,
} from "./harness.js";
import { startTestSmtp, type TestSmtp } from "./smtp.js";

/*
 * Messages the queue lost: a resend whose enqueue failed because Redis went down after the outbox
 * was written, and the jobs of a mailing lost with Redis's keys. The recovery finds the waiting rows
 * that no job names and enqueues them again, once; rows whose jobs are in the queue get no second
 * job. Every message is delivered once. The mailer runs on a Redis of this test's own, stopped and
 * emptied here.
 */

let world: World;
let smtp: TestSmtp;
let redis: RedisInstance;
let mailer: RunningMailer;
let producer: ReturnType<typeof createProducer<typeof mailQueue>>;
let sendQueue: SendQueue;
let recoveryRedis: Redis;
let recovery: ReturnType<typeof createRecovery>;
let partners: { id: number; email: string }[];
let templateId: string;

const mailerOptions = () => ({ smtpUrl: smtp.url, redisUrl: redis.url, retryDelayMs: 300, concurrency: 4 });

beforeAll(async () => {
  world = await startWorld("mailer_requeue");
  smtp = await startTestSmtp();
  redis = await startRedis({ persist: true });
  const connection = { redisUrl: redis.url, prefix: world.prefix };
  mailer = startMailer(world, mailerOptions());
  producer = createProducer(mailQueue, connection);
  sendQueue = createSendQueue(connection, { batchSize: 50, retry: { attempts: 3, delayMs: 300 } });
  recoveryRedis = createRedis(redis.url);
  recovery = createRecovery({
    db: world.db,
    redis: recoveryRedis,
    prefix: world.prefix,
    instance: "test:sweeper",
    intervalMs: 1_000,
    sendingTimeoutSeconds: 900,
    queue: sendQueue,
    requeueAfterSeconds: 1,
    logger,
  });
  partners = await partnersWithEmail(world, 12);
  templateId = await createNoticeTemplate(world);
}, 180_000);

afterAll(async () => {
  await mailer?.close();
  await producer?.close();
  await sendQueue?.close();
  recoveryRedis?.disconnect();
  await smtp?.stop();
  await redis?.close();
  await world?.close();
});

beforeEach(() => {
  smtp.fault = () => undefined;
  smtp.dataDelayMs = 0;
});

const copies = (messageId: string) =>
  smtp.received.filter((r) => r.parsed.messageId === `<${messageId}>`).length;

async function stateOf(id: string): Promise<string> {
  const row = await world.db
    .selectFrom("mail.messages")
    .select("state")
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
  return row.state;
}

describe("messages the queue lost", () => {
  it("a resend whose enqueue failed with Redis down is sent once Redis is back, by the recovery", async () => {
    const partner = partners[0]!;
    smtp.fault = (stage, to) =>
      stage === "rcpt" && to === partner.email
        ? { at: "rcpt", code: 550, message: "5.2.1 Mailbox disabled for now" }
        : undefined;
    const id = await startMailing(world, "custom", { templateId, partnerIds: [partner.id] }, { producer });
    const { messages } = await waitForMailing(world, id);
    const [failed] = messages;
    expect(failed?.state).toBe("failed");
    smtp.fault = () => undefined;

    // the resend as the API makes it: the row back to queued in PostgreSQL, then its job in Redis,
    // which is down
    await redis.stop();
    const requeued = await requeueForResend(world.db, failed!.id);
    expect(requeued?.state).toBe("queued");
    await expect(
      producer.add(
        "send-message",
        { messageId: failed!.id },
        { jobId: sendJobId(failed!.id, requeued!.attempts) },
      ),
    ).rejects.toThrow();
    await redis.start();

    // nothing sends it by itself: the row has no job
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await stateOf(failed!.id)).toBe("queued");

    expect((await recovery.sweep()).requeued).toBe(1);
    await until("the resent message is sent", async () => (await stateOf(failed!.id)) === "sent");
    expect(copies(failed!.message_id)).toBe(1);
    const [done] = await messagesOf(world, id);
    expect(done).toMatchObject({ state: "sent", attempts: 2 });
    // again: nothing more to enqueue, nothing delivered twice
    expect((await recovery.sweep()).requeued).toBe(0);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(copies(failed!.message_id)).toBe(1);
  });

  it("rows whose jobs wait in the queue get no second job; jobs lost with Redis's keys are enqueued again, each message sent once", async () => {
    smtp.dataDelayMs = 150;
    const id = await startMailing(
      world,
      "custom",
      { templateId, partnerIds: partners.map((p) => p.id) },
      { producer },
    );
    await waitForMailing(world, id, 30_000, (states) => states.filter((s) => s === "sent").length >= 3);
    await mailer.close(); // ends the sends under way; the rest stays queued, its job back in the queue
    smtp.dataDelayMs = 0;
    const stopped = await messagesOf(world, id);
    const waiting = stopped.filter((m) => m.state === "queued");
    expect(waiting.length).toBeGreaterThan(0);
    expect(stopped.every((m) => m.state === "sent" || m.state === "queued")).toBe(true);

    await new Promise((r) => setTimeout(r, 1_500)); // past requeueAfterSeconds
    expect((await recovery.sweep()).requeued).toBe(0); // their send-batch job is waiting

    await redis.flushAll(); // the jobs are gone, the rows stay queued
    expect((await recovery.sweep()).requeued).toBe(waiting.length);
    expect((await recovery.sweep()).requeued).toBe(0); // enqueued once, whatever the sweeps

    mailer = startMailer(world, mailerOptions());
    const { mailing, messages } = await waitForMailing(world, id, 60_000);
    expect(mailing.status).toBe("done");
    expect(messages.every((m) => m.state === "sent" && m.attempts === 1)).toBe(true);
    for (const m of messages) expect(copies(m.message_id), m.message_id).toBe(1);
  });

  it("a mailing waiting for the first sync whose planning job Redis lost is planned again, and sent once", async () => {
    const { saved, restore } = await holdFirstSync(world.db, ["account.move.line"]);
    expect(saved.map((c) => c.model)).toEqual(["account.move.line"]);
    try {
      const id = await startMailing(
        world,
        "custom",
        { templateId, partnerIds: partners.slice(0, 3).map((p) => p.id) },
        { producer },
      );
      await until("the mailing says it waits", async () => {
        const m = await world.db
          .selectFrom("mail.mailings")
          .select("error")
          .where("id", "=", id)
          .executeTakeFirstOrThrow();
        return m.error !== null;
      });
      await new Promise((r) => setTimeout(r, 1_500)); // past requeueAfterSeconds
      expect((await recovery.sweep()).replanned).toBe(0); // its delayed job is there
      await redis.flushAll(); // gone with Redis's keys: the mailing stays planning
      expect((await producer.queue.getJob(id)) ?? null).toBeNull();
      expect((await recovery.sweep()).replanned).toBe(1);
      expect((await recovery.sweep()).replanned).toBe(0); // once, whatever the sweeps
      await restore();
      const { mailing, messages } = await waitForMailing(world, id, 60_000);
      expect(mailing.status).toBe("done");
      expect(messages.map((m) => m.state)).toEqual(["sent", "sent", "sent"]);
      for (const m of messages) expect(copies(m.message_id), m.message_id).toBe(1);
    } finally {
      await restore();
    }
  });
});
