/**
 * The plain-text part of an email from its HTML, for templates with no text of their own: blocks
 * and line breaks become new lines, table cells are separated by tabs, list items start with "- ",
 * links keep their address ("text <https://…>"), and tags, comments, scripts and styles are dropped.
 */
const LINK_OPEN = String.fromCharCode(1);
const LINK_CLOSE = String.fromCharCode(2);

export function htmlToText(html: string): string {
  let text = html
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<(script|style|head|title)\b[\s\S]*?<\/\1\s*>/gi, "")
    .replace(/\r\n?/g, "\n")
    .replace(/\s*\n\s*/g, " ");
  text = text.replace(
    /<a\b[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>([\s\S]*?)<\/a\s*>/gi,
    (_m, d: string | undefined, s: string | undefined, b: string | undefined, inner: string) => {
      const href = decodeEntities(d ?? s ?? b ?? "");
      const label = inner.replace(/<[^>]*>/g, "").trim();
      if (!href || href.startsWith("#") || decodeEntities(label) === href) return label || href;
      // LINK_OPEN…LINK_CLOSE survive the tag stripping below, then become < and >
      return label ? `${label} ${LINK_OPEN}${href}${LINK_CLOSE}` : href;
    },
  );
  text = text
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<li\b[^>]*>/gi, "\n- ")
    .replace(/<\/(td|th)\s*>\s*(?=<t[dh]\b)/gi, "\t")
    .replace(/<\/?(p|div|h[1-6]|table|tr|ul|ol|blockquote|section|article|header|footer|hr)\b[^>]*>/gi, "\n")
    .replace(/<[^>]*>/g, "");
  text = decodeEntities(text.split(LINK_OPEN).join("<").split(LINK_CLOSE).join(">"))
    .split("\n")
    .map((line) =>
      line
        .replace(/[ \u00a0]+/g, " ")
        .replace(/ *\t */g, "\t")
        .trim(),
    )
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  return `${text}\n`;
}

const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  euro: "€",
  middot: "·",
  ndash: "–",
  mdash: "—",
  copy: "©",
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" || e[1] === "X" ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1));
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : m;
    }
    return NAMED[e.toLowerCase()] ?? m;
  });
}
