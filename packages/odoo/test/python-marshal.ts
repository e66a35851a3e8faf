/**
 * Writes XML-RPC responses byte for byte the way CPython's `xmlrpc.client.Marshaller` does (the
 * marshaller Odoo uses), and generates Odoo-like finance records. Used by the decoder tests and by
 * bench/odoo.
 */
import { pythonFloatRepr } from "../src/decimal.js";

type Py = number | boolean | string | Py[] | { [key: string]: Py } | { double: number };

const xmlEscape = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function dump(value: Py, out: string[]): void {
  if (typeof value === "boolean") out.push(`<value><boolean>${value ? 1 : 0}</boolean></value>\n`);
  else if (typeof value === "number") {
    if (Number.isInteger(value)) out.push(`<value><int>${value}</int></value>\n`);
    else out.push(`<value><double>${pythonFloatRepr(value)}</double></value>\n`);
  } else if (typeof value === "string") out.push(`<value><string>${xmlEscape(value)}</string></value>\n`);
  else if (Array.isArray(value)) {
    out.push("<value><array><data>\n");
    for (const v of value) dump(v, out);
    out.push("</data></array></value>\n");
  } else if ("double" in value && typeof value.double === "number" && Object.keys(value).length === 1) {
    out.push(`<value><double>${pythonFloatRepr(value.double)}</double></value>\n`);
  } else {
    out.push("<value><struct>\n");
    for (const [k, v] of Object.entries(value)) {
      out.push(`<member>\n<name>${xmlEscape(k)}</name>\n`);
      dump(v as Py, out);
      out.push("</member>\n");
    }
    out.push("</struct></value>\n");
  }
}

/** `xmlrpc.client.dumps((value,), methodresponse=True)`. Wrap a float that is integral as `{ double }`. */
export function pythonResponse(value: Py): string {
  const out = ["<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"];
  dump(value, out);
  out.push("</param>\n</params>\n</methodResponse>\n");
  return out.join("");
}

/** `xmlrpc.client.dumps(Fault(code, text), methodresponse=True)`. */
export function pythonFault(code: number, text: string): string {
  const out = ["<?xml version='1.0'?>\n<methodResponse>\n<fault>\n"];
  dump({ faultCode: code, faultString: text }, out);
  out.push("</fault>\n</methodResponse>\n");
  return out.join("");
}

const NAMES = ["Café Ñandú S.A.", "Müller & Söhne GmbH", "<Acme> \"Intl\" 'Ltd'", "Zoë Ørsted", "東京商事"];
const ACCOUNTS = [
  [101200, "121000 Account Receivable"],
  [101300, "211000 Account Payable"],
  [101401, "400000 Product Sales"],
  [101402, "600000 Expenses"],
] as const;

/** n `account.move.line`-like records as Odoo's `search_read` returns them (the shape, not the sim's data). */
export function moveLines(n: number, seed = 1): Py[] {
  let x = seed >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  const records: Py[] = [];
  for (let i = 0; i < n; i++) {
    const id = 100000 + i;
    const moveId = 5000 + Math.floor(i / 3);
    const amount = Math.round(rnd() * 1e7) / 100;
    const debit = i % 2 === 0 ? amount : 0;
    const credit = i % 2 === 0 ? 0 : amount;
    const account = ACCOUNTS[i % ACCOUNTS.length]!;
    const partner = NAMES[i % NAMES.length]!;
    const day = String(1 + (i % 28)).padStart(2, "0");
    records.push({
      id,
      move_id: [moveId, `INV/2024/${String(moveId).padStart(5, "0")}`],
      date: `2024-03-${day}`,
      account_id: [account[0], account[1]],
      partner_id: i % 11 === 0 ? false : [3000 + (i % 997), partner],
      name: i % 4 === 0 ? `Line ${i}: consulting & support <Q1>` : `[FURN_${i % 100}] Office chair`,
      debit: { double: debit },
      credit: { double: credit },
      balance: { double: debit - credit },
      amount_currency: { double: (debit - credit) * 1.1 },
      currency_id: [i % 2 === 0 ? 2 : 1, i % 2 === 0 ? "USD" : "EUR"],
      analytic_distribution:
        i % 3 === 0 ? { "12": { double: 100 } } : i % 3 === 1 ? { "12,37": 60.5, "8": 39.5 } : false,
      write_date: `2024-03-${day} 12:${String(i % 60).padStart(2, "0")}:05`,
    });
  }
  return records;
}
