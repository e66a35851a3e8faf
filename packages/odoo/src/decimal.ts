/**
 * Exact decimal text for Odoo floats and monetary amounts.
 *
 * Odoo writes a float in Python's shortest round-trip form (`repr`): the fewest significant digits
 * that read back as the same double. JavaScript's `Number#toString` picks the same digits (both
 * implement the shortest round-trip rule), only the layout differs: Python switches to exponent
 * notation from 1e16 and below 1e-4, JavaScript from 1e21 and below 1e-6, and Python always shows
 * a fractional part (`100.0`). So the digits Odoo sent are recoverable exactly from the number.
 */

/** Shortest round-trip digits and decimal exponent: 1234.5 → { negative: false, digits: "12345", exponent: 3 }. */
function shortest(n: number): { negative: boolean; digits: string; exponent: number } {
  const text = Math.abs(n).toExponential(); // shortest round-trip digits, e.g. "1.2345e+3"
  const e = text.indexOf("e");
  const mantissa = text.slice(0, e).replace(".", "");
  return { negative: n < 0 || Object.is(n, -0), digits: mantissa, exponent: Number(text.slice(e + 1)) };
}

/**
 * The exact decimal value Odoo sent, in plain positional notation suitable for a PostgreSQL
 * `numeric` or a decimal library: 1e16 → "10000000000000000", 1e-7 → "0.0000001", 100 → "100",
 * 0.1 + 0.2 → "0.30000000000000004", -0 → "0". Throws on NaN and ±Infinity.
 */
export function toDecimalString(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`cannot write ${n} as a decimal`);
  if (n === 0) return "0";
  const { negative, digits, exponent } = shortest(n);
  let text: string;
  if (exponent >= digits.length - 1) {
    text = digits + "0".repeat(exponent - digits.length + 1);
  } else if (exponent >= 0) {
    text = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  } else {
    text = `0.${"0".repeat(-exponent - 1)}${digits}`;
  }
  return negative ? `-${text}` : text;
}

/** Python's `repr(float)`: 100 → "100.0", 1e16 → "1e+16", 1e-5 → "1e-05", 0.1 → "0.1". */
export function pythonFloatRepr(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Number.POSITIVE_INFINITY) return "inf";
  if (n === Number.NEGATIVE_INFINITY) return "-inf";
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0";
  const { negative, digits, exponent } = shortest(n);
  const sign = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const exp = Math.abs(exponent);
    return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${exp < 10 ? `0${exp}` : exp}`;
  }
  const positional = toDecimalString(Math.abs(n));
  return sign + (positional.includes(".") ? positional : `${positional}.0`);
}
