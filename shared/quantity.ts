// Kubernetes resource quantities (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
// We store CPU as whole millicores and memory as whole bytes. Like the apiserver, fractions of
// the storage unit round up, so "1n" of CPU is 1m and "0.5" bytes is 1 byte.
import { quote } from './validation';

export class QuantityError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`${quote(input)} is not a valid quantity: ${reason}`);
    this.name = 'QuantityError';
  }
}

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const GRAMMAR = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;
const EXAMPLES = 'expected a number with an optional unit, such as 250m, 1.5, 512Mi, 1G or 1e3';

/** An exact quantity: numerator / denominator, both non-negative. */
interface Exact {
  num: bigint;
  den: bigint;
}

function parseExact(input: string): Exact {
  if (typeof input !== 'string') throw new QuantityError(String(input), 'expected a string');
  if (input.trim() === '') throw new QuantityError(input, `it is empty; ${EXAMPLES}`);
  if (input !== input.trim()) throw new QuantityError(input, 'it has leading or trailing spaces');
  const m = GRAMMAR.exec(input);
  if (!m) throw new QuantityError(input, EXAMPLES);
  const [, sign, digits = '', suffix, exponent] = m;
  if (sign === '-' && /[1-9]/.test(digits)) throw new QuantityError(input, 'it is negative');
  const [whole = '', frac = ''] = digits.split('.');
  let num = BigInt((whole || '0') + frac);
  let den = 10n ** BigInt(frac.length);
  if (exponent !== undefined) {
    const e = Number(exponent);
    if (Math.abs(e) > 30) throw new QuantityError(input, 'its exponent is out of range');
    if (e >= 0) num *= 10n ** BigInt(e);
    else den *= 10n ** BigInt(-e);
  } else if (suffix !== undefined && suffix in BINARY) {
    num *= 1n << BigInt(BINARY[suffix]!);
  } else {
    const e = DECIMAL[suffix ?? '']!;
    if (e >= 0) num *= 10n ** BigInt(e);
    else den *= 10n ** BigInt(-e);
  }
  return { num, den };
}

function ceilToSafeInteger(input: string, q: Exact, scale: bigint, unit: string): number {
  const scaled = q.num * scale;
  const value = (scaled + q.den - 1n) / q.den;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new QuantityError(input, `it is too large to express in ${unit}`);
  return Number(value);
}

/** "250m" -> 250, "1.5" -> 1500, "2" -> 2000. Numbers are taken as cores. */
export function parseCpu(input: string | number): number {
  const text = typeof input === 'number' ? numberToText(input) : input;
  return ceilToSafeInteger(text, parseExact(text), 1000n, 'millicores');
}

/** "512Mi" -> 536870912, "1G" -> 1000000000, "129e6" -> 129000000. Numbers are taken as bytes. */
export function parseMemory(input: string | number): number {
  const text = typeof input === 'number' ? numberToText(input) : input;
  return ceilToSafeInteger(text, parseExact(text), 1n, 'bytes');
}

function numberToText(n: number): string {
  if (!Number.isFinite(n)) throw new QuantityError(String(n), 'it is not a finite number');
  if (n < 0) throw new QuantityError(String(n), 'it is negative');
  // toString may give "1e-7"; the grammar accepts that exponent form.
  return String(n);
}

/** Canonical Kubernetes form: whole cores when exact ("2"), millicores otherwise ("1500m"). */
export function formatCpu(millicores: number): string {
  assertCount(millicores, 'millicores');
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

/** Canonical Kubernetes form: the largest binary suffix that is exact ("512Mi"), then decimal ("1G"), else bytes. */
export function formatMemory(bytes: number): string {
  assertCount(bytes, 'bytes');
  if (bytes === 0) return '0';
  for (const [suffix, shift] of Object.entries(BINARY).reverse()) {
    const unit = 2 ** shift;
    if (bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  for (const [suffix, e] of [['E', 18], ['P', 15], ['T', 12], ['G', 9], ['M', 6], ['k', 3]] as const) {
    const unit = 10 ** e;
    if (bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

/** For people: "1.5 cores", "250 millicores". */
export function describeCpu(millicores: number): string {
  assertCount(millicores, 'millicores');
  if (millicores < 1000) return `${millicores}m`;
  const cores = Math.round(millicores / 10) / 100;
  return `${cores} ${cores === 1 ? 'core' : 'cores'}`;
}

/** For people: "1.5 GiB", "512 MiB", "900 B". */
export function describeMemory(bytes: number): string {
  assertCount(bytes, 'bytes');
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  const rounded = value >= 100 || i === 0 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${rounded} ${units[i]}`;
}

function assertCount(n: number, unit: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${n} is not a whole, non-negative number of ${unit}`);
}
