/**
 * Exact sums of decimal strings (numeric's text), for totals of rows a query already returned:
 * scaled BigInts, never a float. The result has the largest scale of its inputs.
 */
export function sumDecimals(values: readonly (string | null | undefined)[]): string {
  let scale = 0;
  const parsed: [bigint, number][] = [];
  for (const value of values) {
    if (value === null || value === undefined) continue;
    const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(value);
    if (!match) throw new TypeError(`not a decimal: ${value}`);
    const fraction = match[3] ?? "";
    scale = Math.max(scale, fraction.length);
    const units = BigInt(`${match[2]}${fraction}`);
    parsed.push([match[1] ? -units : units, fraction.length]);
  }
  let total = 0n;
  for (const [units, s] of parsed) total += units * 10n ** BigInt(scale - s);
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}
