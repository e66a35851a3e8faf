/** Exact sums of decimal strings ("1234.50"), through BigInt: money never passes through a float. */
export function addDecimals(values: readonly string[]): string {
  let scale = 0;
  for (const v of values) scale = Math.max(scale, (v.split(".")[1] ?? "").length);
  let total = 0n;
  for (const v of values) {
    const negative = v.startsWith("-");
    const [whole = "0", fraction = ""] = (negative ? v.slice(1) : v).split(".");
    const units = BigInt(whole + fraction.padEnd(scale, "0"));
    total += negative ? -units : units;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

/** The sign of a decimal string: -1, 0 or 1. */
export function signOf(value: string): -1 | 0 | 1 {
  if (/^-?0*(\.0*)?$/.test(value)) return 0;
  return value.startsWith("-") ? -1 : 1;
}
