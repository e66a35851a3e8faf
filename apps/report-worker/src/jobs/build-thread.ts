/**
 * A build thread's entry (see build-in-thread.ts): its own connection to PostgreSQL, one workbook
 * built into its file, the rows written posted back as it goes (at most every `progressEveryMs`),
 * then the outcome. The thread ends when the build has ended; the main thread ends it sooner by
 * terminating it (a cancelled report, a shutdown), which closes its connection and so rolls back
 * its snapshot.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createDb } from "@finanzas/db";
import { LedgerError, NotSyncedError } from "@finanzas/ledger";
import type { BuildThreadData, BuildThreadMessage } from "./build-in-thread.js";
import { buildWorkbook } from "./build-workbook.js";

const port = parentPort;
if (!port) throw new Error("build-thread.js runs as a worker thread");
const { databaseUrl, job, progressEveryMs } = workerData as BuildThreadData;
const post = (message: BuildThreadMessage) => port.postMessage(message);

// The build's connection: a statement or an idle stretch of its snapshot longer than the build's
// statement timeout ends; a connection lost under the build (a terminated backend, a restarted
// server) rejects its query, and the build fails here to be retried (never a crash of the thread).
const database = createDb({
  url: databaseUrl,
  max: 1,
  applicationName: "report-worker",
  statementTimeoutMs: job.statementTimeoutMs,
});
let last = Date.now();
try {
  const built = await buildWorkbook(database.db, job, (rows) => {
    if (Date.now() - last < progressEveryMs) return;
    last = Date.now();
    post({ type: "progress", rows });
  });
  post({ type: "done", ...built });
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  post({
    type: "error",
    name: e.name,
    message: e.message,
    // parameters the data cannot answer never will: not worth another attempt
    permanent: e instanceof LedgerError && !(e instanceof NotSyncedError),
  });
} finally {
  await database.close();
}
