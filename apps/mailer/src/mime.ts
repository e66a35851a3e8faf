import { createHash, createPrivateKey, type KeyObject, randomBytes } from "node:crypto";
import sign from "nodemailer/lib/dkim/sign";
import * as mimeFuncs from "nodemailer/lib/mime-funcs";
import MimeNode from "nodemailer/lib/mime-node";
import * as qp from "nodemailer/lib/qp";

/*
 * A message composed in one pass into the bytes the SMTP server receives: the mailer's messages
 * all have one shape (a plain-text and an HTML alternative, optionally files attached), so they
 * are written straight out instead of through nodemailer's general MIME tree of streams, which
 * cost more CPU than everything else a send does. The encodings are nodemailer's own functions:
 * address and text headers (RFC 2047 encoded words, punycode), header parameters (RFC 2231),
 * quoted-printable, folding; and its DKIM signature (relaxed/relaxed, every header it signs,
 * List-Unsubscribe-Post among them).
 */

export interface MessageParts {
  from: string;
  to: string;
  replyTo?: string | undefined;
  subject: string;
  html: string;
  text: string;
  /** Without angle brackets. */
  messageId: string;
  /** One-click unsubscribe (RFC 8058): List-Unsubscribe and List-Unsubscribe-Post. */
  unsubscribeUrl?: string | undefined;
  attachments?: { filename: string; content: Buffer; contentType: string }[] | undefined;
  /** Default now. */
  date?: Date | undefined;
}

export interface DkimKey {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

const CRLF = "\r\n";

/** A header line folded at 76 characters, as nodemailer writes it. */
const line = (name: string, value: string) => mimeFuncs.foldLines(`${name}: ${value}`, 76);

// Senders and reply-to addresses are a few configured values: each is encoded once.
const addressLines = new Map<string, string>();
function addressLine(name: "From" | "To" | "Reply-To", value: string): string {
  const key = `${name}\n${value}`;
  let found = addressLines.get(key);
  if (found === undefined) {
    found = line(name, MimeNode.encodeHeaderValue(name, value));
    if (name !== "To") {
      if (addressLines.size > 1_000) addressLines.clear();
      addressLines.set(key, found);
    }
  }
  return found;
}

/** An address nodemailer would write as it is (ASCII dot-atom, lower-case domain). */
const PLAIN_ADDRESS = /^[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@[a-z0-9-]+(\.[a-z0-9-]+)+$/;
/** Header text nodemailer would write as it is (printable ASCII, no quote, nothing like an encoded word). */
const PLAIN_TEXT = /^(?!.*=\?)[ !#-~]*$/;

const isLatin = (code: number) => (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);

/** A text part's transfer encoding and encoded body, chosen as nodemailer chooses them. */
function textPart(content: string): { encoding: string; body: string } {
  const normalized = content.replace(/\r?\n|\r/g, CRLF);
  if (mimeFuncs.isPlainText(normalized) && !mimeFuncs.hasLongerLines(normalized, 76)) {
    return { encoding: "7bit", body: normalized };
  }
  let latin = 0;
  let other = 0;
  for (let i = 0; i < normalized.length; i++) {
    const code = normalized.charCodeAt(i);
    if (isLatin(code)) latin++;
    else if (code >= 0x80 || (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d)) other++;
  }
  if (other < latin) return { encoding: "quoted-printable", body: qp.wrap(qp.encode(normalized), 76) };
  return { encoding: "base64", body: base64Lines(Buffer.from(normalized, "utf8")) };
}

function base64Lines(content: Buffer): string {
  const encoded = content.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < encoded.length; i += 76) lines.push(encoded.slice(i, i + 76));
  return lines.join(CRLF);
}

/** Control characters (no way to carry them in a header) as spaces. */
const withoutControls = (value: string) =>
  [...value].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? " " : c)).join("");

const SPECIAL = /[\s"\\;:/=(),<>@[\]?]|^-/;

function attachmentPart(a: { filename: string; content: Buffer; contentType: string }): string {
  let name = mimeFuncs.isPlainText(a.filename, true)
    ? a.filename
    : mimeFuncs.encodeWords(withoutControls(a.filename), "Q", 52);
  if (name !== a.filename || SPECIAL.test(name)) name = JSON.stringify(name);
  return [
    line("Content-Type", `${mimeFuncs.buildHeaderValue({ value: a.contentType, params: {} })}; name=${name}`),
    "Content-Transfer-Encoding: base64",
    line(
      "Content-Disposition",
      mimeFuncs.buildHeaderValue({ value: "attachment", params: { filename: a.filename } }),
    ),
    "",
    base64Lines(a.content),
  ].join(CRLF);
}

// Boundaries: this process's random token and a counter, never found in encoded content.
const token = randomBytes(9).toString("base64url");
let counter = 0;

function multipart(type: "alternative" | "mixed", parts: string[]): { contentType: string; body: string } {
  const boundary = `--_fz-${token}-${(++counter).toString(36)}`;
  return {
    contentType: mimeFuncs.buildHeaderValue({ value: `multipart/${type}`, params: { boundary } }),
    body: `${parts.map((p) => `--${boundary}${CRLF}${p}${CRLF}`).join("")}--${boundary}--${CRLF}`,
  };
}

/** Relaxed body canonicalization (RFC 6376 3.4.4) of a body whose lines end in CRLF. */
function relaxedBody(body: string): string {
  const canonical = body
    .replace(/[ \t]+\r\n/g, CRLF)
    .replace(/[ \t]+/g, " ")
    .replace(/ $/, "")
    .replace(/(\r\n)+$/, "");
  return canonical.length ? canonical + CRLF : "";
}

export interface Composer {
  compose(message: MessageParts): Buffer;
}

/** Composes messages, DKIM-signed when a key is given (the key is parsed once). */
export function createComposer(dkim?: DkimKey): Composer {
  const key: (Omit<DkimKey, "privateKey"> & { privateKey: KeyObject }) | undefined = dkim
    ? { ...dkim, privateKey: createPrivateKey(dkim.privateKey) }
    : undefined;
  return {
    compose(m) {
      const text = textPart(m.text);
      const html = textPart(m.html);
      const alternative = multipart("alternative", [
        `Content-Type: text/plain; charset=utf-8${CRLF}Content-Transfer-Encoding: ${text.encoding}${CRLF}${CRLF}${text.body}`,
        `Content-Type: text/html; charset=utf-8${CRLF}Content-Transfer-Encoding: ${html.encoding}${CRLF}${CRLF}${html.body}`,
      ]);
      const content = m.attachments?.length
        ? multipart("mixed", [
            `Content-Type: ${alternative.contentType}${CRLF}${CRLF}${alternative.body}`,
            ...m.attachments.map(attachmentPart),
          ])
        : alternative;
      const headers = [addressLine("From", m.from)];
      if (m.replyTo) headers.push(addressLine("Reply-To", m.replyTo));
      headers.push(
        PLAIN_ADDRESS.test(m.to) ? `To: ${m.to}` : addressLine("To", m.to),
        line(
          "Subject",
          PLAIN_TEXT.test(m.subject) ? m.subject : MimeNode.encodeHeaderValue("Subject", m.subject),
        ),
        `Message-ID: <${m.messageId.replace(/[\s<>]/g, "")}>`,
        `Date: ${(m.date ?? new Date()).toUTCString().replace(/GMT/, "+0000")}`,
        "MIME-Version: 1.0",
      );
      if (m.unsubscribeUrl) {
        headers.push(
          line("List-Unsubscribe", `<${m.unsubscribeUrl.replace(/[\s<>]/g, "")}> (Unsubscribe)`),
          "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        );
      }
      headers.push(line("Content-Type", content.contentType));
      let head = headers.join(CRLF) + CRLF;
      if (key) {
        const bodyHash = createHash("sha256").update(relaxedBody(content.body), "latin1").digest("base64");
        // sign() reads header lines one character per byte, as they go on the wire
        const lines = headers.map((h) => ({
          key: h.slice(0, h.indexOf(":")).trim().toLowerCase(),
          line: /[\u0080-\uffff]/.test(h) ? Buffer.from(h, "utf8").toString("latin1") : h,
        }));
        const signature = sign(lines as Parameters<typeof sign>[0], "sha256", bodyHash, key);
        if (signature) head = signature + CRLF + head;
      }
      return Buffer.from(`${head}${CRLF}${content.body}`, "utf8");
    },
  };
}
