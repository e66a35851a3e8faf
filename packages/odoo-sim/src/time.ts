/** Dates are days since 1970-01-01; datetimes are microseconds since the epoch (UTC). */
export const US_PER_SEC = 1_000_000;
export const US_PER_DAY = 86_400 * US_PER_SEC;

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

export function formatDate(days: number): string {
  const d = new Date(days * 86_400_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** Odoo's read format: seconds, microseconds truncated. */
export function formatDatetime(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** With microseconds, as PostgreSQL stores it. */
export function formatDatetimeMicro(us: number): string {
  const frac = ((us % US_PER_SEC) + US_PER_SEC) % US_PER_SEC;
  return `${formatDatetime(us)}.${pad(frac, 6)}`;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DT_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]00:?00)?$/;

export function parseDate(s: string): number | null {
  const m = DATE_RE.exec(s) ?? DT_RE.exec(s);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(ms) ? null : Math.floor(ms / 86_400_000);
}

/** 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) → microseconds; a bare date is midnight. */
export function parseDatetime(s: string): number | null {
  const dm = DATE_RE.exec(s);
  if (dm) {
    const ms = Date.UTC(Number(dm[1]), Number(dm[2]) - 1, Number(dm[3]));
    return Number.isNaN(ms) ? null : ms * 1000;
  }
  const m = DT_RE.exec(s);
  if (!m) return null;
  const ms = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
  );
  if (Number.isNaN(ms)) return null;
  return ms * 1000 + Number((m[7] ?? "").padEnd(6, "0"));
}

export function toMicros(at: Date | string | number): number {
  if (typeof at === "number") return Math.round(at * 1000);
  if (at instanceof Date) return at.getTime() * 1000;
  const us = parseDatetime(at);
  if (us === null) {
    const ms = Date.parse(at);
    if (Number.isNaN(ms)) throw new Error(`not a datetime: ${at}`);
    return ms * 1000;
  }
  return us;
}
