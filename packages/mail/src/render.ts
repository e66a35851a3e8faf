import { Liquid, type Template } from "liquidjs";
import { formatDate, formatMoney, localeOf } from "./format.js";
import { htmlToText } from "./html-text.js";

/*
 * Templates are LiquidJS, a language that cannot run code: a template reads the variables it is
 * given (own properties only, never a prototype's) and applies filters; it reads no file (no
 * include, render or layout from disk), and a parse or render that runs too long, allocates too
 * much or produces too much is stopped with a TemplateError instead.
 */

/** Characters of template source accepted (subject, HTML and text together stay far below it). */
export const MAX_TEMPLATE_CHARS = 200_000;
/** Milliseconds one render may take. */
export const RENDER_TIME_LIMIT_MS = 2_000;
/** Characters one rendered part may have. */
export const MAX_RENDERED_CHARS = 2_000_000;

export class TemplateError extends Error {
  constructor(
    readonly part: "subject" | "html" | "text",
    message: string,
  ) {
    super(`template ${part}: ${message}`);
    this.name = "TemplateError";
  }
}

export interface TemplateSource {
  subject: string;
  html: string;
  /** null: derived from the rendered HTML. */
  text: string | null;
}

export interface Rendered {
  subject: string;
  html: string;
  text: string;
}

function engine(locale: string, escaped: boolean): Liquid {
  const liquid = new Liquid({
    templates: {}, // includes, renders and layouts resolve in this empty map: no file is ever read
    ownPropertyOnly: true,
    strictFilters: true,
    strictVariables: false,
    dynamicPartials: false,
    cache: false,
    parseLimit: MAX_TEMPLATE_CHARS,
    renderLimit: RENDER_TIME_LIMIT_MS,
    memoryLimit: 20_000_000,
    ...(escaped ? { outputEscape: "escape" as const } : {}),
  });
  liquid.registerFilter("money", (amount: unknown, currency?: unknown, decimals?: unknown) =>
    formatMoney(amount, currency, locale, typeof decimals === "number" ? decimals : undefined),
  );
  liquid.registerFilter("day", (date: unknown, style?: unknown) =>
    formatDate(date, locale, style === "long" || style === "medium" ? style : "short"),
  );
  return liquid;
}

/** Parsed templates per locale and part kind; parsing is most of a render's cost. */
class Renderer {
  private readonly engines = new Map<string, Liquid>();
  private readonly parsed = new Map<string, Template[]>();

  private engineFor(locale: string, escaped: boolean): Liquid {
    const key = `${locale}|${escaped}`;
    let found = this.engines.get(key);
    if (!found) {
      found = engine(locale, escaped);
      this.engines.set(key, found);
    }
    return found;
  }

  async render(
    part: "subject" | "html" | "text",
    source: string,
    scope: Record<string, unknown>,
    locale: string,
  ): Promise<string> {
    if (source.length > MAX_TEMPLATE_CHARS) {
      throw new TemplateError(part, `longer than ${MAX_TEMPLATE_CHARS} characters`);
    }
    const escaped = part === "html";
    const liquid = this.engineFor(locale, escaped);
    const key = `${locale}|${escaped}|${source}`;
    let templates = this.parsed.get(key);
    try {
      if (!templates) {
        templates = liquid.parse(source);
        if (this.parsed.size > 500) this.parsed.clear();
        this.parsed.set(key, templates);
      }
      const out = String(await liquid.render(templates, scope));
      if (out.length > MAX_RENDERED_CHARS) {
        throw new TemplateError(part, `renders to more than ${MAX_RENDERED_CHARS} characters`);
      }
      return out;
    } catch (error) {
      if (error instanceof TemplateError) throw error;
      throw new TemplateError(part, error instanceof Error ? error.message : String(error));
    }
  }
}

const renderer = new Renderer();

/** Checks that a template parses (for the API, before it is stored). Throws a TemplateError. */
export function checkTemplate(source: TemplateSource): void {
  const liquid = engine("en-US", false);
  for (const part of ["subject", "html", "text"] as const) {
    const text = source[part];
    if (text === null) continue;
    if (text.length > MAX_TEMPLATE_CHARS) {
      throw new TemplateError(part, `longer than ${MAX_TEMPLATE_CHARS} characters`);
    }
    try {
      liquid.parse(text);
    } catch (error) {
      throw new TemplateError(part, error instanceof Error ? error.message : String(error));
    }
  }
}

/**
 * Renders a template's subject, HTML and plain text with `scope`, money and dates formatted for
 * `lang` (an Odoo language code). Values in the HTML are escaped; the subject is one line.
 */
export async function renderTemplate(
  source: TemplateSource,
  scope: Record<string, unknown>,
  lang: string | null | undefined,
): Promise<Rendered> {
  const locale = localeOf(lang);
  const [subject, html, text] = await Promise.all([
    renderer.render("subject", source.subject, scope, locale),
    renderer.render("html", source.html, scope, locale),
    source.text === null ? Promise.resolve(null) : renderer.render("text", source.text, scope, locale),
  ]);
  return {
    subject: subject.replace(/\s+/g, " ").trim(),
    html,
    text: text ?? htmlToText(html),
  };
}
