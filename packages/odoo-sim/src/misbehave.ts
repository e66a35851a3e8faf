/**
 * Answers no real Odoo gives but a client must survive: a body far larger than any page, a value
 * nested thousands of levels deep, bytes that are not UTF-8 and control characters in a record's
 * field, a date that does not exist, a proxy that echoes the request it got (password included).
 * They are faults like the others (`Control.injectFault`, `POST /__sim/faults`, `--fault`); the
 * pieces that build them live here.
 */
import type { ServerResponse } from "node:http";

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * A value written into an answer as given, bypassing the marshallers' rules (Odoo strips control
 * characters; this does not, and may carry bytes that are not UTF-8). Placed in a result where a
 * field's value goes; `dump` of either protocol writes a placeholder that `spliceRaw` replaces.
 */
export class RawValue {
  constructor(
    /** The whole `<value>…</value>` element. */
    readonly xml: Buffer,
    /** The JSON value. */
    readonly json: Buffer,
  ) {}
}

/** Arrays inside arrays, `depth` levels, around the integer 1. */
export function deepValue(depth: number): RawValue {
  const n = Math.max(1, Math.floor(depth));
  const xml = `${"<value><array><data>\n".repeat(n)}<value><int>1</int></value>\n${"</data></array></value>\n".repeat(n)}`;
  return new RawValue(Buffer.from(xml), Buffer.from(`${"[".repeat(n)}1${"]".repeat(n)}`));
}

/**
 * A string value carrying `text` with nothing stripped (control characters, NUL), or the raw `bytes`
 * (e.g. invalid UTF-8) between the quotes: `<string>` (XML-escaped `&<>` only), a JSON string
 * (control characters of `text` escaped as `\u00XX`, which JSON may carry; raw bytes inserted as is);
 * or a number as is (`<int>3000000000</int>`, which Odoo's marshaller would refuse to write).
 */
export function poisonValue(spec: {
  text?: string | undefined;
  hex?: string | undefined;
  number?: number | undefined;
}): RawValue {
  if (spec.number !== undefined) {
    const n = String(spec.number);
    const tag = Number.isInteger(spec.number) ? "int" : "double";
    return new RawValue(Buffer.from(`<value><${tag}>${n}</${tag}></value>\n`), Buffer.from(n));
  }
  if (spec.hex !== undefined) {
    const bytes = Buffer.from(spec.hex, "hex");
    return new RawValue(
      Buffer.concat([Buffer.from("<value><string>"), bytes, Buffer.from("</string></value>\n")]),
      Buffer.concat([Buffer.from('"'), bytes, Buffer.from('"')]),
    );
  }
  const text = spec.text ?? "";
  const json = JSON.stringify(text);
  return new RawValue(Buffer.from(`<value><string>${escapeXml(text)}</string></value>\n`), Buffer.from(json));
}

/** The placeholder `dump` writes for raw value number `index` (NUL never survives the marshallers). */
export const rawPlaceholder = (index: number): string => `\u0000${index}\u0000`;

/** The marshalled text with each placeholder replaced by its raw value's bytes. */
export function spliceRaw(text: string, raws: readonly RawValue[], format: "xml" | "json"): Buffer {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL delimits the placeholders
  const parts = text.split(/\u0000(\d+)\u0000/);
  const out: Buffer[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) out.push(Buffer.from(parts[i] as string, "utf8"));
    else {
      const raw = raws[Number(parts[i])];
      if (raw) out.push(format === "xml" ? raw.xml : raw.json);
    }
  }
  return Buffer.concat(out);
}

export type HugeFormat = "xmlrpc" | "jsonrpc" | "json2";

/** A well-formed answer of about `bytes` bytes: a list of 64 KiB strings, in the protocol's form. */
function hugeParts(format: HugeFormat): { head: Buffer; unit: Buffer; tail: Buffer; type: string } {
  const filler = "x".repeat(65_536);
  if (format === "xmlrpc") {
    return {
      head: Buffer.from("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n"),
      unit: Buffer.from(`<value><string>${filler}</string></value>\n`),
      tail: Buffer.from("</data></array></value>\n</param>\n</params>\n</methodResponse>\n"),
      type: "text/xml; charset=utf-8",
    };
  }
  return {
    head: Buffer.from(format === "jsonrpc" ? '{"jsonrpc": "2.0", "id": null, "result": [' : "["),
    unit: Buffer.from(`"${filler}", `),
    tail: Buffer.from(format === "jsonrpc" ? '""]}' : '""]'),
    type: "application/json; charset=utf-8",
  };
}

/**
 * Streams a huge answer without ever holding it: the same 64 KiB piece written again and again,
 * waiting for the socket to drain, and stopped as soon as the client goes away. Resolves with the
 * bytes written.
 */
export async function streamHuge(
  res: ServerResponse,
  format: HugeFormat,
  bytes: number,
  declareLength: boolean,
): Promise<number> {
  const { head, unit, tail, type } = hugeParts(format);
  const units = Math.max(1, Math.ceil((bytes - head.length - tail.length) / unit.length));
  const total = head.length + units * unit.length + tail.length;
  let closed = false;
  let wake: (() => void) | undefined;
  res.once("close", () => {
    closed = true;
    wake?.();
  });
  res.writeHead(200, {
    "Content-Type": type,
    Server: "Werkzeug/3.0.1 Python/3.12.3",
    ...(declareLength ? { "Content-Length": String(total) } : {}),
  });
  let written = 0;
  const write = async (chunk: Buffer) => {
    if (closed) return;
    written += chunk.length;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        res.once("drain", () => resolve());
      });
      wake = undefined;
    }
  };
  await write(head);
  for (let i = 0; i < units && !closed; i++) await write(unit);
  if (!closed) {
    written += tail.length;
    res.end(tail);
  }
  return written;
}

/** What a misconfigured proxy or firewall answers: the request it got, headers and body, echoed back. */
export function echoPage(
  status: number,
  method: string,
  path: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`);
  return `${status} Bad Request\n\nThe request could not be processed:\n${method} ${path}\n${lines.join("\n")}\n\n${body}\n`;
}
