import type { Db } from "@finanzas/ledger";
import type { Storage } from "@finanzas/storage";

/*
 * A message's attachment travels by reference: the outbox row names a report record
 * (reports.reports), the report-worker builds the file and stores it, and the file is read from
 * storage by its key right before the message is sent; never as bytes through Redis. A batch of
 * messages looks its reports up together, then reads each file as its message is about to go
 * (so a batch holds in memory only the files of the messages in flight).
 */

export interface Attachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

export type ReportState = "ready" | "pending" | { failed: string };

/** The reports of a batch's messages. */
export interface BatchAttachments {
  /** Whether a report's file can be attached now, is still being built, or never will be. */
  state(reportId: string): ReportState;
  /** A ready report's file, read from storage (once for a file several messages of the batch attach). */
  read(reportId: string): Promise<Attachment | { failed: string }>;
}

export interface AttachmentSource {
  /** Looks up the reports of a batch's messages, in one query. */
  lookup(reportIds: readonly string[]): Promise<BatchAttachments>;
}

/** Larger files are not mailed (most servers refuse messages over 25 MB, base64 adds a third). */
export const MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024;

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** Attachments from report records and the shared storage. */
export function reportAttachments(db: Db, storage: Pick<Storage, "get">): AttachmentSource {
  return {
    async lookup(reportIds) {
      const unique = [...new Set(reportIds)];
      const records = unique.length
        ? await db
            .selectFrom("reports.reports")
            .select(["id", "status", "storage_key", "file_name", "error", "bytes"])
            .where("id", "in", unique)
            .execute()
        : [];
      const byId = new Map(records.map((r) => [r.id, r]));
      const state = (reportId: string): ReportState => {
        const report = byId.get(reportId);
        if (!report) return { failed: `the statement report ${reportId} no longer exists` };
        if (report.status === "queued" || report.status === "running") return "pending";
        if (report.status !== "succeeded" || !report.storage_key) {
          return {
            failed: `the statement report ${reportId} ${report.status}${report.error ? `: ${report.error}` : ""}`,
          };
        }
        if (report.bytes !== null && report.bytes > MAX_ATTACHMENT_BYTES) {
          return { failed: `the statement is ${report.bytes} bytes, over ${MAX_ATTACHMENT_BYTES}` };
        }
        return "ready";
      };
      // reads still to come per storage key: a file shared by messages of the batch is read once
      // and kept only until its last message has it
      const readers = new Map<string, number>();
      for (const id of reportIds) {
        const key = state(id) === "ready" ? byId.get(id)?.storage_key : undefined;
        if (key) readers.set(key, (readers.get(key) ?? 0) + 1);
      }
      const files = new Map<string, Promise<Buffer | null>>();
      const readFile = async (key: string): Promise<Buffer | null> => {
        const object = await storage.get(key);
        if (!object) return null;
        const chunks: Buffer[] = [];
        for await (const chunk of object.body) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      };
      return {
        state,
        async read(reportId) {
          const now = state(reportId);
          if (now !== "ready")
            return { failed: now === "pending" ? "the statement is not built yet" : now.failed };
          const report = byId.get(reportId)!;
          const key = report.storage_key!;
          let file = files.get(key);
          if (!file) {
            file = readFile(key);
            files.set(key, file);
          }
          const left = (readers.get(key) ?? 1) - 1;
          readers.set(key, left);
          if (left <= 0) files.delete(key);
          const content = await file;
          if (!content) return { failed: `the statement's file ${key} is gone (expired?)` };
          return {
            filename: report.file_name,
            content,
            contentType: report.file_name.endsWith(".xlsx") ? XLSX : "application/octet-stream",
          };
        },
      };
    },
  };
}
