/*
 * Content negotiation for the few routes that answer a page to a browser and JSON to any other
 * client (RFC 9110 §12.5.1): the quality of a media type is that of the most specific range that
 * matches it (`text/html` before `text/*` before `*\/*`), 0 when none does.
 */

const JSON_TYPES = ["application/json", "application/problem+json"];

interface Range {
  type: string;
  subtype: string;
  q: number;
}

function parse(accept: string): Range[] {
  const ranges: Range[] = [];
  for (const part of accept.split(",")) {
    const [media, ...params] = part.trim().toLowerCase().split(";");
    const [type, subtype] = (media ?? "").trim().split("/");
    if (!type || !subtype) continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.trim().split("=");
      if (key === "q") q = Number.parseFloat(value ?? "");
    }
    if (!Number.isFinite(q) || q < 0 || q > 1) q = 0;
    ranges.push({ type, subtype, q });
  }
  return ranges;
}

function quality(ranges: readonly Range[], media: string): number {
  const [type, subtype] = media.toLowerCase().split("/");
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity =
      r.type === type && r.subtype === subtype
        ? 2
        : r.type === type && r.subtype === "*"
          ? 1
          : r.type === "*" && r.subtype === "*"
            ? 0
            : -1;
    if (specificity > best) {
      best = specificity;
      q = r.q;
    }
  }
  return q;
}

/**
 * Whether a request's Accept prefers `media` (e.g. text/html) to JSON: `media` acceptable and
 * ranked above application/json and application/problem+json. A browser following a link
 * (`text/html,…,*\/*;q=0.8`) does; no Accept, `*\/*` (curl, mail providers) and
 * `application/json` do not.
 */
export function prefersOverJson(accept: string | undefined, media: string): boolean {
  if (!accept) return false;
  const ranges = parse(accept);
  const wanted = quality(ranges, media);
  return wanted > 0 && JSON_TYPES.every((json) => quality(ranges, json) < wanted);
}
