import { generateKeyPairSync } from "node:crypto";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { simpleParser } from "mailparser";
import { describe, expect, it } from "vitest";
import { createComposer } from "./mime.js";

/* What a composed message says, read back by mailparser (an independent parser) and mailauth. */

const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const publicKey = keys.publicKey.export({ type: "spki", format: "der" }).toString("base64");
const dkim = {
  domainName: "finanzas.test",
  keySelector: "s1",
  privateKey: keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
};
const verify = (raw: Buffer) =>
  dkimVerify(raw, { resolver: async () => [[`v=DKIM1; k=rsa; p=${publicKey}`]] });

const xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

describe("a composed message", () => {
  it("carries every header, both alternatives and the files, non-ASCII text intact", async () => {
    const workbook = Buffer.from(Array.from({ length: 5_000 }, (_, i) => i % 256));
    const raw = createComposer().compose({
      from: "Cobros Pérez <cobros@finanzas.test>",
      to: "cliente@example.com",
      replyTo: "Cuentas <cuentas@finanzas.test>",
      subject: `Estado de cuenta de Müller & Söhne, S.L. a 07/12/2026 — ${"muy ".repeat(20)}largo`,
      html: "<p>Estimado/a Müller:</p>\n<p>Total: 1.234,56 €</p>",
      text: "Estimado/a Müller:\n.\n..dos puntos\nTotal: 1.234,56 €  \n",
      messageId: "m-1@finanzas.test",
      unsubscribeUrl: "http://api.finanzas.test/api/v1/mail/unsubscribe?token=abc.def",
      attachments: [
        { filename: "statement-5-2026-12-07.xlsx", content: workbook, contentType: xlsx },
        { filename: "año; ñ.pdf", content: Buffer.from("%PDF"), contentType: "application/pdf" },
      ],
      date: new Date("2026-12-07T10:00:00Z"),
    });
    // every line within the 998 octets SMTP allows, each ending in CRLF
    const text = raw.toString("latin1");
    expect(text.split("\r\n").every((l) => l.length <= 998 && !l.includes("\n"))).toBe(true);
    const mail = await simpleParser(raw);
    expect(mail.from?.value).toEqual([{ name: "Cobros Pérez", address: "cobros@finanzas.test" }]);
    expect(mail.to).toMatchObject({ value: [{ address: "cliente@example.com" }] });
    expect(mail.replyTo?.value[0]?.address).toBe("cuentas@finanzas.test");
    expect(mail.subject).toBe(
      `Estado de cuenta de Müller & Söhne, S.L. a 07/12/2026 — ${"muy ".repeat(20)}largo`,
    );
    expect(mail.messageId).toBe("<m-1@finanzas.test>");
    expect(mail.date?.toISOString()).toBe("2026-12-07T10:00:00.000Z");
    expect(mail.text).toBe("Estimado/a Müller:\n.\n..dos puntos\nTotal: 1.234,56 €  \n");
    expect(mail.html).toBe("<p>Estimado/a Müller:</p>\n<p>Total: 1.234,56 €</p>");
    const head = text.split("\r\n\r\n")[0]!.replace(/\r\n[ \t]+/g, " ");
    expect(head).toMatch(
      /^List-Unsubscribe: <http:\/\/api\.finanzas\.test\/api\/v1\/mail\/unsubscribe\?token=abc\.def> \(Unsubscribe\)$/m,
    );
    expect(head).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    expect(mail.attachments.map((a) => [a.filename, a.contentType, a.contentDisposition])).toEqual([
      ["statement-5-2026-12-07.xlsx", xlsx, "attachment"],
      ["año; ñ.pdf", "application/pdf", "attachment"],
    ]);
    expect(mail.attachments[0]?.content.equals(workbook)).toBe(true);
  });

  it("without files or an unsubscribe link is one multipart/alternative, with no List-Unsubscribe", async () => {
    const raw = createComposer().compose({
      from: "no-reply@finanzas.test",
      to: "a@example.com",
      subject: "Hola",
      html: "<p>Hola</p>",
      text: "Hola\n",
      messageId: "m-2@finanzas.test",
    });
    const mail = await simpleParser(raw);
    expect(mail.headers.get("content-type")).toMatchObject({ value: "multipart/alternative" });
    expect(mail.headers.has("list-unsubscribe")).toBe(false);
    expect(mail.attachments).toEqual([]);
    expect(mail.text).toBe("Hola\n");
  });

  it("is DKIM-signed over its headers (List-Unsubscribe-Post among them) and body, and a change breaks it", async () => {
    const raw = createComposer(dkim).compose({
      from: "Cobros <cobros@finanzas.test>",
      to: "cliente@example.com",
      subject: "Recordatorio — Müller",
      html: "<p>Vencido:   1.234,56 €</p>",
      text: "Vencido:\t 1.234,56 €   \n\n\n",
      messageId: "m-3@finanzas.test",
      unsubscribeUrl: "http://api.finanzas.test/u?token=x",
      attachments: [{ filename: "s.xlsx", content: Buffer.from("PK"), contentType: xlsx }],
    });
    const verified = await verify(raw);
    expect(verified.results[0]?.status.result).toBe("pass");
    const signature = raw
      .toString()
      .split("\r\n\r\n")[0]!
      .replace(/\r\n[ \t]+/g, " ");
    expect(signature).toMatch(/^DKIM-Signature: .*h=[^;]*list-unsubscribe-post/i);
    const tampered = Buffer.from(raw.toString().replace("Vencido", "Pagado"));
    expect((await verify(tampered)).results[0]?.status.result).not.toBe("pass");
  });
});
