import { randomUUID } from "node:crypto";
import { type MailingKind, type MessageState, mailQueue } from "@finanzas/contracts";
import { createDb, type Db as Store, sql } from "@finanzas/db";
import { companyList, type Db } from "@finanzas/ledger";
import { createMailing, seedDefaults } from "@finanzas/mail";
import { createProducer, type Producer } from "@finanzas/queue";
import {
  createTestDatabase,
  deleteQueueKeys,
  startTestOdoo,
  TEST_REDIS_URL,
  type TestDatabase,
  testLogger,
  testQueuePrefix,
} from "@finanzas/testing";
import { syncOnce } from "etl-worker/testing";
import type { AttachmentSource } from "../src/attachments.js";
import { createTransport, type DkimOptions, type MailTransport } from "../src/transport.js";
import { createMailWorker, type MailWorker } from "../src/worker.js";
import { startTestSmtp, type TestSmtp } from "./smtp.js";

export const logger = testLogger("mailer");
export const SECRET = "test-unsubscribe-secret-0123456789abcdef";

/** A suite's world: a migrated database synced from the Odoo simulator, and its own queue prefix. */
export interface World {
  database: TestDatabase;
  store: Store;
  db: Db;
  prefix: string;
  producer: Producer<typeof mailQueue>;
  close(): Promise<void>;
}

export async function startWorld(label: string): Promise<World> {
  const database = await createTestDatabase(label);
  const store = createDb({ url: database.url, max: 8 });
  const odoo = await startTestOdoo({ seed: 7, scale: 0.05, version: 17 });
  try {
    await syncOnce({ store, odoo: odoo.odoo, logger });
  } finally {
    await odoo.close();
  }
  await seedDefaults(store.db);
  const prefix = testQueuePrefix(label);
  const producer = createProducer(mailQueue, { redisUrl: TEST_REDIS_URL, prefix });
  return {
    database,
    store,
    db: store.db,
    prefix,
    producer,
    async close() {
      await producer.close();
      await store.close();
      await database.drop();
      await deleteQueueKeys(prefix);
    },
  };
}

export interface MailerOptions {
  smtpUrl: string;
  concurrency?: number;
  ratePerSecond?: number;
  throttlePauseMs?: number;
  attempts?: number;
  retryDelayMs?: number;
  dkim?: DkimOptions;
  attachments?: AttachmentSource;
  attachStatements?: boolean;
  poolSize?: number;
  /** A Redis of the test's own (default: the shared one). */
  redisUrl?: string;
}

export interface RunningMailer {
  worker: MailWorker;
  transport: MailTransport;
  instance: string;
  close(): Promise<void>;
}

const noAttachments: AttachmentSource = {
  lookup: async () => ({
    state: () => ({ failed: "no attachments in this test" }),
    read: async () => ({ failed: "no attachments in this test" }),
  }),
};

/** Most suites' set: a world, an SMTP server, and a mailer in this process sending to it. */
export interface MailerSuite {
  world: World;
  smtp: TestSmtp;
  mailer: RunningMailer;
  /** Stops the mailer, then the SMTP server, then the world. */
  close(): Promise<void>;
}

/** Starts a MailerSuite (what had started is stopped again should a start fail). */
export async function startMailerSuite(
  label: string,
  options: Omit<MailerOptions, "smtpUrl"> = {},
): Promise<MailerSuite> {
  const world = await startWorld(label);
  let smtp: TestSmtp | undefined;
  try {
    smtp = await startTestSmtp();
    const server = smtp;
    const mailer = startMailer(world, { ...options, smtpUrl: server.url });
    return {
      world,
      smtp: server,
      mailer,
      close: async () => {
        await mailer.close();
        await server.stop();
        await world.close();
      },
    };
  } catch (error) {
    await smtp?.stop();
    await world.close();
    throw error;
  }
}

/** A mailer consumer in this process, as main.ts builds it. */
export function startMailer(world: World, o: MailerOptions): RunningMailer {
  const transport = createTransport({
    url: o.smtpUrl,
    poolSize: o.poolSize ?? 3,
    timeoutMs: 5_000,
    dkim: o.dkim,
  });
  const instance = `test:${randomUUID().slice(0, 8)}`;
  const worker = createMailWorker({
    connection: { redisUrl: o.redisUrl ?? TEST_REDIS_URL, prefix: world.prefix },
    logger,
    concurrency: o.concurrency ?? 8,
    db: world.db,
    transport,
    attachments: o.attachments ?? noAttachments,
    instance,
    plan: {
      reminderMinDays: 7,
      defaultLang: "es",
      attachStatements: o.attachStatements ?? false,
      messageIdDomain: "finanzas.test",
      firstSyncRecheckMs: 200,
    },
    send: {
      fromFor: (companyId) =>
        companyId === 2 ? "Americas <ar@americas.test>" : "Cobros <cobros@finanzas.test>",
      replyTo: "Cuentas <cuentas@finanzas.test>",
      publicUrl: "http://api.finanzas.test",
      unsubscribeSecret: SECRET,
      throttlePauseMs: o.throttlePauseMs ?? 1_000,
      attachmentWaitMs: 500,
    },
    ratePerSecond: o.ratePerSecond ?? 10_000,
    retry: { attempts: o.attempts ?? 5, delayMs: o.retryDelayMs ?? 200 },
  });
  return {
    worker,
    transport,
    instance,
    async close() {
      await worker.close(5_000);
      transport.close();
    },
  };
}

/** Creates a mailing as the API does and enqueues its planning. */
export async function startMailing(
  world: World,
  kind: MailingKind,
  params: Record<string, unknown> = {},
  options: { asOf?: string; dryRun?: boolean; producer?: Producer<typeof mailQueue> } = {},
): Promise<string> {
  const mailing = await createMailing(world.db, {
    kind,
    params,
    asOf: options.asOf ?? new Date().toISOString().slice(0, 10),
    dryRun: options.dryRun ?? false,
    requestedBy: null,
  });
  await (options.producer ?? world.producer).add(
    "plan-mailing",
    { mailingId: mailing.id },
    { jobId: mailing.id },
  );
  return mailing.id;
}

export const messagesOf = (world: World, mailingId: string) =>
  world.db
    .selectFrom("mail.messages")
    .selectAll()
    .where("mailing_id", "=", mailingId)
    .orderBy("partner_id")
    .execute();

/** Waits until the mailing is over (done, planned, failed, cancelled) or `until` holds. */
export async function waitForMailing(
  world: World,
  mailingId: string,
  timeoutMs = 60_000,
  until?: (states: MessageState[]) => boolean,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mailing = await world.db
      .selectFrom("mail.mailings")
      .selectAll()
      .where("id", "=", mailingId)
      .executeTakeFirstOrThrow();
    const messages = await messagesOf(world, mailingId);
    const over = ["done", "planned", "failed", "cancelled"].includes(mailing.status);
    if (until ? until(messages.map((m) => m.state as MessageState)) : over) return { mailing, messages };
    if (Date.now() > deadline) {
      const states: Record<string, number> = {};
      for (const m of messages) states[m.state] = (states[m.state] ?? 0) + 1;
      throw new Error(
        `mailing ${mailingId} still ${mailing.status} after ${timeoutMs} ms: ${JSON.stringify(states)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const companies = (world: World) => companyList(world.db);

/** The first `limit` live partners with an email address, by id. */
export async function partnersWithEmail(
  world: World,
  limit: number,
): Promise<{ id: number; email: string }[]> {
  return (await world.db
    .selectFrom("odoo.res_partner")
    .select(["id", "email"])
    .where("email", "like", "%@%")
    .where("_deleted_at", "is", null)
    .orderBy("id")
    .limit(limit)
    .execute()) as { id: number; email: string }[];
}

/** A custom template ("notice", Spanish) whose subject names the partner's id; returns its id. */
export async function createNoticeTemplate(world: World): Promise<string> {
  const row = await world.db
    .insertInto("mail.templates")
    .values({
      key: "notice",
      kind: "custom",
      lang: "es",
      name: "Aviso",
      subject: "Aviso {{ partner.id }}",
      html: "<p>{{ partner.name }}</p>",
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Waits until `check` holds, polling every 50 ms; fails naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Holds every planning where it reads the partners (an exclusive lock on odoo.res_partner) while
 * `during` runs, then lets them go on. `waiters(n)` waits until `n` sessions wait for the lock.
 */
export async function holdingPartnerReads<T>(
  world: World,
  during: (waiters: (n: number) => Promise<void>) => Promise<T>,
): Promise<T> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const holding = world.db.transaction().execute(async (trx) => {
    await sql`lock table odoo.res_partner in access exclusive mode`.execute(trx);
    locked();
    await released;
  });
  try {
    await isLocked;
    return await during((n) =>
      until(`${n} plannings wait for the partners`, async () => {
        const { rows } = await sql<{ n: number }>`select count(*)::integer as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`.execute(world.db);
        return rows[0]!.n >= n;
      }),
    );
  } finally {
    release();
    await holding;
  }
}
