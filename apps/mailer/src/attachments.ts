import type { Db } from "@finanzas/ledger";
import type { Storage } from "@finanzas/storage";

/*
 * A message's attachment travels by reference: the outbox row names a report record
 * (reports.reports), the report-worker builds the file and stores it, and the file is read from
 * storage by its key right before the message is sent; never as bytes through Redis.
 */

export interface Attachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

export type AttachmentState =
  | { state: "ready"; attachment: Attachment }
  | { state: "pending" }
  | { state: "failed"; error: string };

export interface AttachmentSource {
  load(reportId: string): Promise<AttachmentState>;
}

/** Larger files are not mailed (most servers refuse messages over 25 MB, base64 adds a third). */
export const MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024;

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** Attachments from report records and the shared storage. */
export function reportAttachments(db: Db, storage: Pick<Storage, "get">): AttachmentSource {
  return {
    async load(reportId) {
      const report = await db
        .selectFrom("reports.reports")
        .select(["status", "storage_key", "file_name", "error", "bytes"])
        .where("id", "=", reportId)
        .executeTakeFirst();
      if (!report) return { state: "failed", error: `the statement report ${reportId} no longer exists` };
      if (report.status === "queued" || report.status === "running") return { state: "pending" };
      if (report.status !== "succeeded" || !report.storage_key) {
        return {
          state: "failed",
          error: `the statement report ${reportId} ${report.status}${report.error ? `: ${report.error}` : ""}`,
        };
      }
      if (report.bytes !== null && report.bytes > MAX_ATTACHMENT_BYTES) {
        return {
          state: "failed",
          error: `the statement is ${report.bytes} bytes, over ${MAX_ATTACHMENT_BYTES}`,
        };
      }
      const object = await storage.get(report.storage_key);
      if (!object)
        return { state: "failed", error: `the statement's file ${report.storage_key} is gone (expired?)` };
      const chunks: Buffer[] = [];
      for await (const chunk of object.body) chunks.push(chunk as Buffer);
      return {
        state: "ready",
        attachment: {
          filename: report.file_name,
          content: Buffer.concat(chunks),
          contentType: report.file_name.endsWith(".xlsx") ? XLSX : "application/octet-stream",
        },
      };
    },
  };
}
