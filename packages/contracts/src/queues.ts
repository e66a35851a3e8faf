import { defineQueue } from "./define.js";

/*
 * The three queues of the system. Each job is added here by the issue that builds it (the ETL's
 * sync jobs, the report worker's workbooks, the mailer's mailings); no placeholder jobs.
 */

/** Consumed by etl-worker: pull Odoo, upsert PostgreSQL. Produced by web-api and scheduler. */
export const etlQueue = defineQueue({
  name: "etl",
  jobs: {},
  // A sync retried by BullMQ resumes from its committed cursor, so retries are cheap and safe.
  defaultJobOptions: { attempts: 3, backoff: { type: "exponential", delay: 30_000 } },
});

/** Consumed by report-worker: builds .xlsx files from PostgreSQL. Produced by web-api and scheduler. */
export const reportsQueue = defineQueue({ name: "reports", jobs: {} });

/** Consumed by mailer: renders and sends email. Produced by web-api and scheduler. */
export const mailQueue = defineQueue({ name: "mail", jobs: {} });

export const queues = { etl: etlQueue, reports: reportsQueue, mail: mailQueue } as const;
