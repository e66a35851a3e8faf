import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createNoticeTemplate,
  messagesOf,
  partnersWithEmail,
  type RunningMailer,
  startMailer,
  startMailing,
  startWorld,
  type World,
  waitForMailing,
} from "./harness.js";
import { startTestSmtp, type TestSmtp } from "./smtp.js";

/*
 * Faults injected by a real SMTP server in the middle of mailings: a 421 (the whole queue pauses,
 * then resumes), one recipient refused with 550 5.1.1 (failed, address suppressed), the connection
 * dropped after the whole message was sent (unknown, never sent again), the server down for a
 * while (retried with backoff until it is back), and the mailer stopped half-way through a batch.
 * Every message ends in one final state, and no message is delivered twice.
 */

let world: World;
let smtp: TestSmtp;
let mailer: RunningMailer;
let partners: { id: number; email: string }[];
let templateId: string;

beforeAll(async () => {
  world = await startWorld("mailer_faults");
  smtp = await startTestSmtp();
  mailer = startMailer(world, {
    smtpUrl: smtp.url,
    throttlePauseMs: 1_500,
    retryDelayMs: 300,
    attempts: 8,
    concurrency: 4,
  });
  partners = await partnersWithEmail(world, 24);
  templateId = await createNoticeTemplate(world);
}, 180_000);

afterAll(async () => {
  await mailer?.close();
  await smtp?.stop();
  await world?.close();
});

beforeEach(() => {
  smtp.fault = () => undefined;
  smtp.dataDelayMs = 0;
});

/** Received copies per Message-ID. */
function deliveries(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of smtp.received) {
    const id = r.parsed.messageId ?? "";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

async function mailAll() {
  const id = await startMailing(world, "custom", { templateId, partnerIds: partners.map((p) => p.id) });
  return waitForMailing(world, id, 90_000);
}

function expectExactlyOnce(messages: { state: string; message_id: string }[]) {
  const copies = deliveries();
  for (const m of messages) {
    expect(["sent", "failed", "skipped", "unknown", "cancelled"]).toContain(m.state);
    const n = copies.get(`<${m.message_id}>`) ?? 0;
    if (m.state === "sent") expect(n, `${m.message_id} sent`).toBe(1);
    else if (m.state === "unknown") expect(n).toBeLessThanOrEqual(1);
    else expect(n, `${m.message_id} ${m.state}`).toBe(0);
  }
}

describe("SMTP faults", () => {
  it("a 421 in the middle pauses the whole queue, then every message goes out once", async () => {
    let refused = 0;
    let refusedAt = 0;
    smtp.fault = (stage, _to, index) => {
      if (stage === "data" && index === 6 && refused === 0) {
        refused++;
        refusedAt = Date.now();
        return { at: "data", code: 421, message: "4.7.0 Too many messages, slow down" };
      }
      return undefined;
    };
    const { mailing, messages } = await mailAll();
    expect(mailing.status).toBe("done");
    expect(refused).toBe(1);
    expect(messages.every((m) => m.state === "sent")).toBe(true);
    expectExactlyOnce(messages);
    // nothing was accepted during the pause (a job already past the limiter may still finish)
    const during = smtp.received.filter((r) => r.at > refusedAt + 200 && r.at < refusedAt + 1_300);
    expect(during.length).toBeLessThanOrEqual(4);
    const after = smtp.received.filter((r) => r.at >= refusedAt + 1_300);
    expect(after.length).toBeGreaterThan(0);
  });

  it("550 5.1.1 for one recipient fails that message and suppresses its address; the rest go out", async () => {
    const bad = partners[3]!;
    smtp.fault = (stage, to) =>
      stage === "rcpt" && to === bad.email
        ? { at: "rcpt", code: 550, message: "5.1.1 <x>: Recipient address rejected: User unknown" }
        : undefined;
    const { messages } = await mailAll();
    const failed = messages.filter((m) => m.state === "failed");
    expect(failed.map((m) => m.partner_id)).toEqual(
      partners.filter((p) => p.email === bad.email).map((p) => p.id),
    );
    expect(failed[0]!.smtp_response).toMatch(/^550 5\.1\.1/);
    expect(failed[0]!.attempts).toBe(1);
    const suppression = await world.db
      .selectFrom("mail.suppressions")
      .selectAll()
      .where("email", "=", bad.email.toLowerCase())
      .executeTakeFirst();
    expect(suppression).toMatchObject({ reason: "bounced", message_id: failed[0]!.id });
    expect(messages.filter((m) => m.state === "sent").length).toBe(messages.length - failed.length);
    expectExactlyOnce(messages);
    // the next mailing skips the suppressed address before sending
    smtp.fault = () => undefined;
    const again = await mailAll();
    const skipped = again.messages.filter((m) => m.state === "skipped");
    expect(skipped.map((m) => m.skip_reason)).toEqual(failed.map(() => "address suppressed (bounced)"));
    await world.db.deleteFrom("mail.suppressions").execute();
  });

  it("a connection dropped after the whole message leaves it unknown, never sent again by itself", async () => {
    let dropped = "";
    const third = smtp.dataSeen + 3;
    smtp.fault = (stage, to, index) => {
      if (stage === "data" && index === third && !dropped) {
        dropped = to;
        return { at: "data", drop: true };
      }
      return undefined;
    };
    const { mailing, messages } = await mailAll();
    expect(mailing.status).toBe("done");
    const unknown = messages.filter((m) => m.state === "unknown");
    expect(unknown).toHaveLength(1);
    expect(unknown[0]!.email).toBe(dropped);
    expect(unknown[0]!.last_error).toMatch(/after the whole message was handed to the server/);
    expect(messages.filter((m) => m.state === "sent")).toHaveLength(messages.length - 1);
    // retries and backoffs come and go: the unknown message is still delivered once only
    await new Promise((r) => setTimeout(r, 2_000));
    expect(deliveries().get(`<${unknown[0]!.message_id}>`)).toBe(1);
    expectExactlyOnce(messages);
  });

  it("the server down for a while: messages retry with backoff and all go out once it is back", async () => {
    await smtp.stop();
    const id = await startMailing(world, "custom", { templateId, partnerIds: partners.map((p) => p.id) });
    await waitForMailing(world, id, 30_000, (states) => states.includes("retry"));
    await new Promise((r) => setTimeout(r, 1_500));
    await smtp.start();
    const { mailing, messages } = await waitForMailing(world, id, 90_000);
    expect(mailing.status).toBe("done");
    expect(messages.every((m) => m.state === "sent")).toBe(true);
    expect(Math.max(...messages.map((m) => m.attempts))).toBeGreaterThan(1);
    expectExactlyOnce(messages);
  });

  it("a batch that ends part sent, part refused, part unknown, part to retry: its retried job sends only the retries, each once", async () => {
    // four partners of four addresses (some partners share one)
    const chosen = [...new Map(partners.map((p) => [p.email, p])).values()].slice(0, 4);
    const [ok, temporary, refused, dropped] = chosen;
    const seen = new Map<string, number>();
    smtp.fault = (stage, to) => {
      const n = (seen.get(`${stage}:${to}`) ?? 0) + 1;
      seen.set(`${stage}:${to}`, n);
      if (stage === "rcpt" && to === refused!.email) {
        return { at: "rcpt", code: 550, message: "5.1.1 <x>: Recipient address rejected: User unknown" };
      }
      if (stage === "data" && to === temporary!.email && n === 1) {
        return { at: "data", code: 451, message: "4.3.0 Temporary local problem, try again" };
      }
      if (stage === "data" && to === dropped!.email && n === 1) return { at: "data", drop: true };
      return undefined;
    };
    const id = await startMailing(world, "custom", { templateId, partnerIds: chosen.map((p) => p.id) });
    const { mailing, messages } = await waitForMailing(world, id, 60_000);
    expect(mailing.status).toBe("done");
    const stateOf = (p: { email: string }) => messages.find((m) => m.email === p.email);
    expect(stateOf(ok!)).toMatchObject({ state: "sent", attempts: 1 });
    expect(stateOf(temporary!)).toMatchObject({ state: "sent", attempts: 2 });
    expect(stateOf(refused!)).toMatchObject({ state: "failed", attempts: 1 });
    expect(stateOf(dropped!)).toMatchObject({ state: "unknown", attempts: 1 });
    // the job ran again for the retry: the sent, refused and unknown ones were not touched by it
    expect(seen.get(`data:${ok!.email}`)).toBe(1);
    expect(seen.get(`data:${temporary!.email}`)).toBe(2);
    expect(seen.get(`rcpt:${refused!.email}`)).toBe(1);
    expect(seen.get(`data:${dropped!.email}`)).toBe(1);
    await new Promise((r) => setTimeout(r, 1_000));
    expectExactlyOnce(messages);
    await world.db.deleteFrom("mail.suppressions").execute();
  });

  it("stopped in the middle of a mailing, it ends the sends under way, leaves the rest queued, and the next mailer sends them", async () => {
    smtp.dataDelayMs = 150;
    const id = await startMailing(world, "custom", { templateId, partnerIds: partners.map((p) => p.id) });
    await waitForMailing(world, id, 30_000, (states) => states.filter((s) => s === "sent").length >= 3);
    const started = Date.now();
    await mailer.close();
    // the rest of the batch was not waited for (24 messages, 3 connections, 150 ms each)
    expect(Date.now() - started).toBeLessThan(1_000);
    const stopped = await messagesOf(world, id);
    expect(stopped.filter((m) => m.state === "queued").length).toBeGreaterThan(0);
    // nothing left half-way: neither sending nor unknown
    expect(stopped.every((m) => m.state === "sent" || m.state === "queued")).toBe(true);
    smtp.dataDelayMs = 0;
    mailer = startMailer(world, {
      smtpUrl: smtp.url,
      throttlePauseMs: 1_500,
      retryDelayMs: 300,
      attempts: 8,
    });
    const { mailing, messages } = await waitForMailing(world, id, 60_000);
    expect(mailing.status).toBe("done");
    expect(messages.every((m) => m.state === "sent")).toBe(true);
    expect(messages.every((m) => m.attempts === 1)).toBe(true);
    expectExactlyOnce(messages);
  });
});
