import { parseEnv } from "@finanzas/config";
import { mailQueue } from "@finanzas/contracts";
import { redisOptionsFromUrl } from "@finanzas/queue";
import { deleteQueueKeys, TEST_REDIS_URL, testLogger, testQueuePrefix } from "@finanzas/testing";
import { Queue } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigSchema } from "../src/config.js";
import { syncSchedules } from "../src/scheduler.js";
import { schedulesFrom } from "../src/schedules.js";

const logger = testLogger("scheduler");
const prefix = testQueuePrefix("mail-schedules");
const connection = { redisUrl: TEST_REDIS_URL, prefix };
const inspect = new Queue(mailQueue.name, { connection: redisOptionsFromUrl(TEST_REDIS_URL), prefix });

afterAll(async () => {
  await inspect.close();
  await deleteQueueKeys(prefix);
});

const config = (env: Record<string, string> = {}) => parseEnv("scheduler", ConfigSchema, env);

describe("the daily payment reminders", () => {
  it("are off by default, and on with MAIL_REMINDER_CRON: the mail queue's run-reminders job", () => {
    expect(config().MAIL_REMINDER_CRON).toBe("off");
    expect(schedulesFrom(config()).filter((s) => s.queue.name === "mail")).toEqual([]);
    const on = schedulesFrom(config({ MAIL_REMINDER_CRON: "0 8 * * 1-5", SCHEDULE_TZ: "Europe/Madrid" }));
    expect(
      on.filter((s) => s.queue.name === "mail").map((s) => [s.id, s.job, s.cron, s.tz, s.payload]),
    ).toEqual([
      ["mail-reminders", "run-reminders", "0 8 * * 1-5", "Europe/Madrid", { requestedBy: "scheduler" }],
    ]);
    expect(() => config({ MAIL_REMINDER_CRON: "daily" })).toThrow(
      /MAIL_REMINDER_CRON: expected a five-field cron/,
    );
  });

  it("register on the mail queue with the job's own options, and are removed when turned off again", async () => {
    const list = async () =>
      (await inspect.getJobSchedulers(0, -1)).map((s) => ({
        id: s.id ?? s.key,
        pattern: s.pattern,
        name: s.name,
        tz: s.tz,
      }));
    await syncSchedules({ connection, logger, schedules: schedulesFrom(config()), queues: [mailQueue] });
    expect(await list()).toEqual([]);

    await syncSchedules({
      connection,
      logger,
      schedules: schedulesFrom(config({ MAIL_REMINDER_CRON: "0 8 * * *", SCHEDULE_TZ: "Europe/Madrid" })),
      queues: [mailQueue],
    });
    expect(await list()).toEqual([
      { id: "mail-reminders", pattern: "0 8 * * *", name: "run-reminders", tz: "Europe/Madrid" },
    ]);
    // the next run waits in the queue as the mailer will take it
    const [next] = await inspect.getDelayed();
    expect(next?.name).toBe("run-reminders");
    expect(next?.data).toEqual({ requestedBy: "scheduler" });
    expect(next?.opts.attempts).toBe(mailQueue.jobs["run-reminders"].options?.attempts);
    const at = new Date(next!.timestamp + (next!.opts.delay ?? 0));
    expect(
      new Intl.DateTimeFormat("en-GB", {
        timeZone: "Europe/Madrid",
        hour: "2-digit",
        minute: "2-digit",
      }).format(at),
    ).toBe("08:00");

    const off = await syncSchedules({
      connection,
      logger,
      schedules: schedulesFrom(config()),
      queues: [mailQueue],
    });
    expect(off.removed).toEqual(["mail-reminders"]);
    expect(await list()).toEqual([]);
  });
});
