/*
 * Money and dates as a partner reads them: in the partner's language (Odoo's res.partner.lang,
 * es_ES, en_US), amounts exact (decimal strings, formatted without passing through a float).
 */

// a mailing renders thousands of messages in a handful of languages: each is resolved once
const locales = new Map<string, string | null>();

/** The BCP 47 locale of an Odoo language code (es_ES → es-ES); `fallback` when there is none. */
export function localeOf(lang: string | null | undefined, fallback = "es-ES"): string {
  if (!lang) return fallback;
  let locale = locales.get(lang);
  if (locale === undefined) {
    try {
      locale = Intl.getCanonicalLocales(lang.replace("_", "-").replace(/@.*$/, ""))[0] ?? null;
    } catch {
      locale = null;
    }
    if (locales.size > 1_000) locales.clear();
    locales.set(lang, locale);
  }
  return locale ?? fallback;
}

/** The two-letter language of an Odoo language code (es_ES → es). */
export const languageOf = (lang: string | null | undefined): string | null =>
  lang ? (lang.split(/[_-]/)[0]?.toLowerCase() ?? null) : null;

const formats = new Map<string, Intl.NumberFormat>();

/** `1234.5` in EUR for es-ES → "1234,50 €"; an exact decimal string stays exact. */
export function formatMoney(amount: unknown, currency: unknown, locale: string, decimals?: number): string {
  const value = typeof amount === "number" ? String(amount) : typeof amount === "string" ? amount : "";
  if (!/^-?\d+(\.\d+)?$/.test(value)) return String(amount ?? "");
  const code = typeof currency === "string" && /^[A-Z]{3}$/.test(currency) ? currency : undefined;
  const key = `${locale}|${code ?? ""}|${decimals ?? ""}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, {
      ...(code ? { style: "currency", currency: code } : { minimumFractionDigits: 2 }),
      ...(decimals === undefined ? {} : { minimumFractionDigits: decimals, maximumFractionDigits: decimals }),
    });
    formats.set(key, format);
  }
  // Intl formats a decimal string exactly (no float on the way)
  return format.format(value as unknown as number);
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();
// the same few dates (as of, due dates) come back in message after message
const formattedDates = new Map<string, string>();

/** A `YYYY-MM-DD` date in the locale: "long" → "5 de marzo de 2024", "short" → "05/03/2024" (en-US: "03/05/2024"). */
export function formatDate(
  date: unknown,
  locale: string,
  style: "short" | "medium" | "long" = "short",
): string {
  const text = date instanceof Date ? date.toISOString().slice(0, 10) : typeof date === "string" ? date : "";
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return String(date ?? "");
  const day = text.slice(0, 10);
  const done = formattedDates.get(`${locale}|${style}|${day}`);
  if (done !== undefined) return done;
  const key = `${locale}|${style}`;
  let format = dateFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(
      locale,
      style === "short"
        ? { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" }
        : { dateStyle: style, timeZone: "UTC" },
    );
    dateFormats.set(key, format);
  }
  const formatted = format.format(new Date(`${day}T00:00:00Z`));
  if (formattedDates.size > 10_000) formattedDates.clear();
  formattedDates.set(`${locale}|${style}|${day}`, formatted);
  return formatted;
}
