/**
 * Mail throughput: N personalised messages (default 10 000) from the outbox to a local SMTP server
 * (bench/mail/sink.mjs, its own process) through the mailer's own code (send-batch jobs on the
 * mail queue as a planned mailing enqueues them, 8 pooled SMTP connections), without and with a
 * 40 KB attachment read from storage, against a sender as the seed's Celery tasks would do it (one
 * SMTP connection per message, the message rendered by the same templates), in the same run.
 * Prints messages per second, the mailer process's peak RSS, the CPU time per message of the
 * mailer and of the SMTP server, how busy the machine's cores were (other processes included), and
 * duplicates seen by the server (must be 0).
 *
 *   pnpm exec turbo run build --filter=mailer && pnpm --filter mailer bench [messages] [baselineMessages]
 *
 * Targets: ≥ 1 000 messages/s without attachment, ≥ 5× the one-connection-per-message sender.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import {
  createMailWorker,
  createSendQueue,
  createTransport,
  DEFAULT_BATCH_SIZE,
  reportAttachments,
} from "mailer/bench";
import { createDb } from "../../packages/db/src/index.js";
import { renderMessage, seedDefaults } from "../../packages/mail/src/index.js";
import { createFilesystemStorage } from "../../packages/storage/src/index.js";
import {
  createTestDatabase,
  deleteQueueKeys,
  TEST_REDIS_URL,
  testLogger,
  testQueuePrefix,
} from "../../packages/testing/src/index.js";

const N = Number(process.argv[2] ?? 10_000);
const BASELINE_N = Number(process.argv[3] ?? 2_000);
const require = createRequire(new URL("../../apps/mailer/package.json", import.meta.url));
const nodemailer = require("nodemailer") as typeof import("nodemailer");

// ── the SMTP sink ─────────────────────────────────────────────────────────────────────────────
const sink = spawn(process.execPath, [fileURLToPath(new URL("./sink.mjs", import.meta.url))], {
  cwd: fileURLToPath(new URL("../../apps/mailer/", import.meta.url)),
  stdio: ["pipe", "pipe", "inherit"],
});
const lines: string[] = [];
let waiting: ((line: string) => void) | undefined;
let buffered = "";
sink.stdout!.on("data", (chunk: Buffer) => {
  buffered += chunk.toString();
  for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(line);
    } else lines.push(line);
  }
});
const nextLine = () =>
  new Promise<string>((resolve) => {
    const line = lines.shift();
    if (line !== undefined) resolve(line);
    else waiting = resolve;
  });
const port = Number((await nextLine()).split(" ")[1]);
const sinkReport = async () => {
  sink.stdin!.write("report\n");
  return JSON.parse(await nextLine()) as {
    total: number;
    distinct: number;
    duplicates: number;
    cpuMs: number;
  };
};
const sinkReset = () => sink.stdin!.write("reset\n");

/** CPU time of the whole machine (every core, every process) so far, busy and all, in ms; null off Linux. */
async function machineCpu(): Promise<{ busy: number; all: number } | null> {
  try {
    const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const all = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: ((all - idle) * 1000) / 100, all: (all * 1000) / 100 };
  } catch {
    return null;
  }
}

// ── the outbox ────────────────────────────────────────────────────────────────────────────────
const database = await createTestDatabase("bench_mail");
const store = createDb({ url: database.url, max: 20 });
const db = store.db;
const prefix = testQueuePrefix("bench-mail");
const filesDir = await mkdtemp(join(tmpdir(), "bench-mail-files-"));
const storage = createFilesystemStorage({ dir: filesDir });
await seedDefaults(db);
const template = await db
  .insertInto("mail.templates")
  .values({
    key: "bench",
    kind: "custom",
    lang: "es",
    name: "Bench",
    subject: "Estado de cuenta de {{ partner.name }} a {{ as_of | day }}",
    html: `<p>Estimado/a {{ partner.name }}:</p><table>{% for item in items %}<tr><td>{{ item.document }}</td><td>{{ item.due_date | day }}</td><td>{{ item.days_overdue }}</td><td>{{ item.open_amount | money: item.currency }}</td></tr>{% endfor %}</table>{% for t in totals %}<p>Total: {{ t.open | money: t.currency }}</p>{% endfor %}<p><a href="{{ unsubscribe_url }}">baja</a></p>`,
  })
  .returning("id")
  .executeTakeFirstOrThrow();

const context = (i: number) => {
  const items = Array.from({ length: 5 }, (_, k) => ({
    document: `INV/2026/${String(i * 5 + k).padStart(6, "0")}`,
    date: "2026-10-01",
    due_date: "2026-11-01",
    days_overdue: 36 + k,
    open_amount: `${(i % 997) + k}.${String((i * 7 + k) % 100).padStart(2, "0")}`,
    currency: "EUR",
  }));
  return {
    partner: { id: i + 1, name: `Cliente ${i + 1} S.L.`, lang: "es_ES" },
    company: { id: 1, name: "Finanzas Demo S.L.", currency: "EUR" },
    as_of: "2026-12-07",
    items,
    overdue_items: items,
    totals: [{ company: "Finanzas Demo S.L.", currency: "EUR", open: "1234.56", overdue: "1234.56" }],
  };
};

async function outbox(withAttachment: boolean): Promise<{ mailingId: string; ids: string[] }> {
  const mailingId = randomUUID();
  await db
    .insertInto("mail.mailings")
    .values({
      id: mailingId,
      kind: "custom",
      params: "{}",
      status: "sending",
      as_of: "2026-12-07",
      requested_by: null,
    })
    .execute();
  let reportId: string | null = null;
  if (withAttachment) {
    const bytes = Buffer.alloc(40 * 1024, "x");
    await storage.put("bench/statement.xlsx", Readable.from([bytes]), {
      contentType: "application/octet-stream",
    });
    reportId = randomUUID();
    await db
      .insertInto("reports.reports")
      .values({
        id: reportId,
        kind: "partner-statement",
        params: "{}",
        request_key: "bench",
        requested_by: null,
        status: "succeeded",
        file_name: "estado-de-cuenta.xlsx",
        storage_key: "bench/statement.xlsx",
        bytes: bytes.length,
      })
      .execute();
  }
  const ids: string[] = [];
  for (let start = 0; start < N; start += 1_000) {
    const rows = Array.from({ length: Math.min(1_000, N - start) }, (_, k) => {
      const i = start + k;
      const id = randomUUID();
      ids.push(id);
      return {
        id,
        mailing_id: mailingId,
        partner_id: i + 1,
        partner_name: `Cliente ${i + 1} S.L.`,
        email: `cliente${i + 1}@example.com`,
        lang: "es_ES",
        company_id: 1,
        template_id: template.id,
        context: JSON.stringify(context(i)),
        state: "queued",
        message_id: `${id}@finanzas.bench`,
        report_id: reportId,
      };
    });
    await db.insertInto("mail.messages").values(rows).execute();
  }
  return { mailingId, ids };
}

// ── the mailer ────────────────────────────────────────────────────────────────────────────────
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
const transport = createTransport({ url: `smtp://127.0.0.1:${port}`, poolSize: 8, timeoutMs: 30_000 });
const worker = createMailWorker({
  connection: { redisUrl: TEST_REDIS_URL, prefix },
  logger: testLogger("bench"),
  concurrency: 16,
  db,
  transport,
  attachments: reportAttachments(db, storage),
  instance: "bench",
  plan: { reminderMinDays: 7, defaultLang: "es", attachStatements: false, messageIdDomain: "finanzas.bench" },
  send: {
    fromFor: () => "Cobros <cobros@finanzas.bench>",
    publicUrl: "http://localhost:3000",
    unsubscribeSecret: "bench-unsubscribe-secret-0123456789abcdef",
    throttlePauseMs: 1_000,
    attachmentWaitMs: 1_000,
  },
  ratePerSecond: 100_000,
  retry: { attempts: 3, delayMs: 1_000 },
});
const sendQueue = createSendQueue(
  { redisUrl: TEST_REDIS_URL, prefix },
  { batchSize: DEFAULT_BATCH_SIZE, retry: { attempts: 3, delayMs: 1_000 } },
);

async function runMailer(label: string, withAttachment: boolean) {
  sinkReset();
  const { mailingId, ids } = await outbox(withAttachment);
  peakRss = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const machineBefore = await machineCpu();
  const started = performance.now();
  await sendQueue.send(ids.map((id) => ({ id })));
  // the mailer marks the mailing done when its last message is in a final state
  for (;;) {
    const { status } = await db
      .selectFrom("mail.mailings")
      .select("status")
      .where("id", "=", mailingId)
      .executeTakeFirstOrThrow();
    if (status === "done") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = await machineCpu();
  const report = await sinkReport();
  const sent = await db
    .selectFrom("mail.messages")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("mailing_id", "=", mailingId)
    .where("state", "=", "sent")
    .executeTakeFirstOrThrow();
  const perMessage = (ms: number) => `${(ms / ids.length).toFixed(2)}`;
  const machine =
    machineBefore && machineAfter
      ? `; the machine's cores ${((100 * (machineAfter.busy - machineBefore.busy)) / (machineAfter.all - machineBefore.all)).toFixed(0)}% busy (all processes)`
      : "";
  console.log(
    `${label}: ${ids.length} messages in ${seconds.toFixed(2)} s = ${(ids.length / seconds).toFixed(0)} messages/s; ` +
      `sent ${sent.n}, server received ${report.total} (${report.distinct} distinct), duplicates ${report.duplicates}; ` +
      `peak RSS of the mailer process ${(peakRss / 1048576).toFixed(0)} MB; CPU per message: mailer ${perMessage((cpu.user + cpu.system) / 1000)} ms, ` +
      `SMTP sink ${perMessage(report.cpuMs)} ms${machine}`,
  );
  return ids.length / seconds;
}

// ── one connection per message, as a Celery task would send it ────────────────────────────────
async function runBaseline(): Promise<number> {
  sinkReset();
  const rows = await db.selectFrom("mail.messages").selectAll().limit(BASELINE_N).execute();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const row = rows[next++];
      if (!row) return;
      const rendered = await renderMessage(db, row, { unsubscribe_url: null });
      const single = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true });
      await single.sendMail({
        from: "Cobros <cobros@finanzas.bench>",
        to: row.email!,
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        messageId: `<baseline-${row.message_id}>`,
      });
      single.close();
    }
  };
  // a Celery worker's default concurrency is the number of CPUs; 8 is generous on this machine
  await Promise.all(Array.from({ length: 8 }, worker));
  const seconds = (performance.now() - started) / 1000;
  const report = await sinkReport();
  console.log(
    `one connection per message: ${rows.length} messages in ${seconds.toFixed(2)} s = ${(rows.length / seconds).toFixed(0)} messages/s; duplicates ${report.duplicates}`,
  );
  return rows.length / seconds;
}

try {
  const plain = await runMailer("mailer, no attachment", false);
  const attached = await runMailer("mailer, 40 KB attachment", true);
  const baseline = await runBaseline();
  console.log(
    `ratio (no attachment / one connection per message): ${(plain / baseline).toFixed(1)}x; with attachment ${(attached / baseline).toFixed(1)}x`,
  );
} finally {
  clearInterval(sampler);
  await worker.close(5_000);
  transport.close();
  await sendQueue.close();
  await store.close();
  await database.drop();
  await deleteQueueKeys(prefix);
  await rm(filesDir, { recursive: true, force: true });
  sink.kill();
}
