import { fileURLToPath } from "node:url";
import { freePort, type ServiceProcess, startNode, TEST_REDIS_URL, waitForHttpOk } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SECRET, startMailing, startWorld, type World, waitForMailing } from "./harness.js";
import { startTestSmtp, type TestSmtp } from "./smtp.js";

/*
 * The built mailer as processes: SIGKILLed in the middle of a mailing and started again, and two
 * replicas sharing one rate limit.
 */

const ENTRY = fileURLToPath(new URL("../dist/main.js", import.meta.url));
let world: World;
let smtp: TestSmtp;
let templateId: string;
let partnerIds: number[];
const running: ServiceProcess[] = [];

beforeAll(async () => {
  world = await startWorld("mailer_process");
  smtp = await startTestSmtp();
  partnerIds = (
    await world.db
      .selectFrom("odoo.res_partner")
      .select("id")
      .where("_deleted_at", "is", null)
      .orderBy("id")
      .limit(60)
      .execute()
  ).map((p) => p.id);
  templateId = (
    await world.db
      .insertInto("mail.templates")
      .values({
        key: "note",
        kind: "custom",
        lang: "es",
        name: "Nota",
        subject: "Nota {{ partner.id }}",
        html: "<p>{{ partner.name }}</p>",
      })
      .returning("id")
      .executeTakeFirstOrThrow()
  ).id;
}, 180_000);

afterAll(async () => {
  for (const p of running) await p.stop("SIGKILL").catch(() => {});
  await smtp?.stop();
  await world?.close();
});

async function startProcessMailer(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const port = await freePort();
  const proc = startNode([ENTRY], {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    DATABASE_URL: world.database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: world.prefix,
    HEALTH_PORT: String(port),
    SMTP_URL: smtp.url,
    SMTP_TIMEOUT_MS: "5000",
    MAIL_ATTACH_STATEMENTS: "false",
    MAIL_UNSUBSCRIBE_SECRET: SECRET,
    MAIL_RETRY_DELAY_MS: "300",
    SHUTDOWN_TIMEOUT_MS: "2000",
    ...env,
  });
  running.push(proc);
  await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, proc, 45_000);
  return proc;
}

function deliveries(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of smtp.received)
    counts.set(r.parsed.messageId ?? "", (counts.get(r.parsed.messageId ?? "") ?? 0) + 1);
  return counts;
}

describe("the mailer as a process", () => {
  it("SIGKILLed in the middle of a mailing and restarted: every recipient ends in one final state, none sent twice", async () => {
    smtp.received.length = 0;
    smtp.dataDelayMs = 150;
    const first = await startProcessMailer({ MAIL_CONCURRENCY: "6", MAIL_RATE_PER_SECOND: "1000" });
    const id = await startMailing(world, "custom", { templateId, partnerIds });
    const deadline = Date.now() + 60_000;
    while (smtp.received.length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(smtp.received.length).toBeGreaterThanOrEqual(10);
    await first.stop("SIGKILL");
    const atKill = await world.db
      .selectFrom("mail.messages")
      .select(["state"])
      .where("mailing_id", "=", id)
      .execute();
    expect(atKill.some((m) => m.state === "queued")).toBe(true);
    smtp.dataDelayMs = 0;
    await startProcessMailer({ MAIL_CONCURRENCY: "6", MAIL_RATE_PER_SECOND: "1000" });
    const { mailing, messages } = await waitForMailing(world, id, 120_000);
    expect(mailing.status).toBe("done");
    const copies = deliveries();
    for (const m of messages) {
      expect(["sent", "skipped", "unknown"], `${m.partner_id}`).toContain(m.state);
      const n = copies.get(`<${m.message_id}>`) ?? 0;
      if (m.state === "sent") expect(n).toBe(1);
      if (m.state === "skipped") {
        expect(n).toBe(0);
        expect(m.skip_reason).toBeTruthy();
      }
      if (m.state === "unknown") {
        expect(n).toBeLessThanOrEqual(1);
        expect(m.last_error).toMatch(/mailer stopped/);
      }
    }
    expect(messages.filter((m) => m.state === "sent").length).toBeGreaterThan(10);
    // nothing delivered that the outbox does not know of, nothing twice
    expect([...copies.values()].every((n) => n === 1)).toBe(true);
  }, 180_000);

  it("two replicas together keep to MAIL_RATE_PER_SECOND", async () => {
    for (const p of running.splice(0)) await p.stop("SIGTERM");
    smtp.received.length = 0;
    const rate = 5;
    await Promise.all([
      startProcessMailer({ MAIL_CONCURRENCY: "8", MAIL_RATE_PER_SECOND: String(rate) }),
      startProcessMailer({ MAIL_CONCURRENCY: "8", MAIL_RATE_PER_SECOND: String(rate) }),
    ]);
    const ids = partnerIds.slice(0, 30);
    const id = await startMailing(world, "custom", { templateId, partnerIds: ids });
    const { messages } = await waitForMailing(world, id, 60_000);
    const sent = messages.filter((m) => m.state === "sent");
    expect(sent.length).toBeGreaterThanOrEqual(20);
    const times = smtp.received.map((r) => r.at).sort((a, b) => a - b);
    const span = (times.at(-1)! - times[0]!) / 1000;
    // n messages at `rate` per second need at least (n - rate) / rate seconds (first window full)
    expect(span).toBeGreaterThanOrEqual((times.length - rate) / rate - 0.5);
    // both replicas sent
    expect(new Set(sent.map((m) => m.claimed_by?.split(":")[1])).size).toBe(2);
    for (const start of times) {
      const inWindow = times.filter((t) => t >= start && t < start + 1_000).length;
      expect(inWindow).toBeLessThanOrEqual(2 * rate);
    }
  }, 120_000);
});
