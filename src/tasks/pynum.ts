// Python number semantics the official VLAC package relies on, reproduced exactly because its
// strings are re-parsed and its numbers compared (vlac-behavior.md §4, §5, Q9):
// float() acceptance, str.isdigit(), format(v, '.Nf') (round-half-even on the exact binary value),
// repr(float) as str.format('{}') prints it, and the sign-of-divisor modulo.

// Characters float() strips as whitespace: str.isspace (Unicode 14) except the ASCII separators
// 0x1C-0x1F, which float() rejects.
const PY_SPACE = new Set<number>([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

// Numeric_Type=Digit characters that are not decimal digits (superscripts, circled digits, ...):
// str.isdigit() accepts them but float() does not. Decimal digits are \p{Nd}.
const DIGIT_NOT_DECIMAL: ReadonlyArray<readonly [number, number]> = [
  [0xb2, 0xb3], [0xb9, 0xb9], [0x1369, 0x1371], [0x19da, 0x19da], [0x2070, 0x2070], [0x2074, 0x2079],
  [0x2080, 0x2089], [0x2460, 0x2468], [0x2474, 0x247c], [0x2488, 0x2490], [0x24ea, 0x24ea],
  [0x24f5, 0x24fd], [0x24ff, 0x24ff], [0x2776, 0x277e], [0x2780, 0x2788], [0x278a, 0x2792],
  [0x10a40, 0x10a43], [0x10e60, 0x10e68], [0x11052, 0x1105a], [0x1f100, 0x1f10a],
];

const DECIMAL = /^\p{Nd}$/u;

function isDecimalCp(cp: number): boolean {
  return DECIMAL.test(String.fromCodePoint(cp));
}

/** Python `str.isdigit()`: non-empty and every code point a Unicode digit. */
export function pyIsDigit(s: string): boolean {
  if (s.length === 0) return false;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (isDecimalCp(cp)) continue;
    if (!DIGIT_NOT_DECIMAL.some(([lo, hi]) => cp >= lo && cp <= hi)) return false;
  }
  return true;
}

/** The whitespace stripping of Python's float(). */
export function pyStrip(s: string): string {
  const cps = Array.from(s);
  let a = 0;
  let b = cps.length;
  while (a < b && PY_SPACE.has(cps[a]!.codePointAt(0)!)) a++;
  while (b > a && PY_SPACE.has(cps[b - 1]!.codePointAt(0)!)) b--;
  return cps.slice(a, b).join('');
}

// A decimal digit's value: Unicode assigns every Nd digit in a contiguous run of ten starting at
// zero, so the offset from the start of its run, modulo 10, is its value.
function decimalValue(cp: number): number {
  let start = cp;
  while (isDecimalCp(start - 1)) start--;
  return (cp - start) % 10;
}

// float()'s grammar after stripping: [sign] (digitpart ['.' [digitpart]] | '.' digitpart) [exponent]
// or [sign] inf | infinity | nan, case-insensitive; digitpart = digit (['_'] digit)*.
const FLOAT_GRAMMAR = /^[+-]?(?:(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?|inf|infinity|nan)$/i;

/**
 * Python `float(text)`: the number, or null where Python raises ValueError.
 * Unicode decimal digits are accepted as Python accepts them.
 */
export function parsePyFloat(text: string): number | null {
  let s = '';
  for (const ch of pyStrip(text)) {
    const cp = ch.codePointAt(0)!;
    s += cp > 0x7f && isDecimalCp(cp) ? String(decimalValue(cp)) : ch;
  }
  if (!FLOAT_GRAMMAR.test(s)) return null;
  const lower = s.toLowerCase();
  const sign = lower.startsWith('-') ? -1 : 1;
  const body = lower.replace(/^[+-]/, '');
  if (body === 'inf' || body === 'infinity') return sign * Infinity;
  if (body === 'nan') return NaN;
  return Number(s.replace(/_/g, ''));
}

// The exact value of a finite double as mantissa * 2^exp (BigInt mantissa, may be negative).
function exactBinary(x: number): { mant: bigint; exp: number } {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const sign = hi >>> 31 ? -1n : 1n;
  const bexp = (hi >>> 20) & 0x7ff;
  let frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (bexp === 0) {
    exp = -1074;
  } else {
    frac |= 1n << 52n;
    exp = bexp - 1075;
  }
  return { mant: sign * frac, exp };
}

/**
 * Python `format(x, '.{digits}f')`: correctly rounded from the exact binary value, ties to even
 * (so 0.25 -> "0.2", where JS toFixed gives "0.3").
 */
export function pyFormatFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const negative = x < 0 || Object.is(x, -0);
  const { mant, exp } = exactBinary(Math.abs(x));
  // scaled = mant * 2^exp * 10^digits, rounded half-even to an integer.
  let num = mant * 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) {
    q = num << BigInt(exp);
  } else {
    const den = 1n << BigInt(-exp);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  }
  let s = q.toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, '0');
    s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  }
  return negative ? `-${s}` : s;
}

/**
 * Python `str(x)` of a number as the official formatters see it: integer-valued numbers print as
 * Python ints (the official inputs are ints), other values as `repr(float)`.
 */
export function pyStr(x: number): string {
  if (Number.isInteger(x)) return Object.is(x, -0) ? '0' : BigInt(x).toString();
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  // Shortest round-trip digits, laid out as repr does: fixed for -4 <= exponent < 16.
  const [mantissa, expPart] = x.toExponential().split('e') as [string, string];
  const exponent = Number(expPart);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  let out: string;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out = `0.${'0'.repeat(-exponent - 1)}${digits}`;
    } else if (digits.length <= exponent + 1) {
      out = `${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
    } else {
      out = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
    }
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exponent).toString().padStart(2, '0');
    out = `${m}e${exponent < 0 ? '-' : '+'}${e}`;
  }
  return negative ? `-${out}` : out;
}

/** Python `a % b` for numbers: the result takes the divisor's sign. */
export function pyMod(a: number, b: number): number {
  let m = a % b;
  if (m !== 0 && (b < 0) !== (m < 0)) m += b;
  return m;
}

/** Python `round(x, digits)` on a float (half-even on the exact value). */
export function pyRound(x: number, digits: number): number {
  return Number(pyFormatFixed(x, digits));
}

/** Python `a // b` (floor division). */
export function pyFloorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}
