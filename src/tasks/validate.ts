// Argument checks at the task boundary: every wrong type, range or enum value is an
// ERR_VLAC_BAD_ARGUMENT naming the argument (api.md §7), before any work starts.
import { badArgument } from '../errors.js';
import type { CallOptions, ImageInput } from './types.js';

export function checkOptions(v: unknown, method: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badArgument(`${method}: options must be an object`);
  return v as Record<string, unknown>;
}

export function checkTask(v: unknown, name: string): string {
  if (typeof v !== 'string') throw badArgument(`${name} must be a string (got ${describe(v)})`);
  if (v.length === 0) throw badArgument(`${name} must not be empty`);
  return v;
}

export function checkBool(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw badArgument(`${name} must be a boolean (got ${describe(v)})`);
  return v;
}

export function checkInt(v: unknown, name: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badArgument(`${name} must be an integer (got ${describe(v)})`);
  if (v < min || v > max) {
    throw badArgument(`${name} must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `in [${min}, ${max}]`} (got ${v})`);
  }
  return v;
}

export function checkNumber(v: unknown, name: string, dflt: number, range: { min?: number; nonZero?: boolean } = {}): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badArgument(`${name} must be a finite number (got ${describe(v)})`);
  if (range.min !== undefined && v < range.min) throw badArgument(`${name} must be at least ${range.min} (got ${v})`);
  if (range.nonZero && v === 0) throw badArgument(`${name} must not be 0`);
  return v;
}

export function checkEnum<T extends string>(v: unknown, name: string, dflt: T, allowed: readonly T[]): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw badArgument(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got ${describe(v)})`);
  }
  return v as T;
}

export function checkVector(v: unknown, name: string, lengths: readonly number[]): number[] {
  if (!Array.isArray(v)) throw badArgument(`${name} must be an array of ${lengths.join(' or ')} numbers (got ${describe(v)})`);
  if (!lengths.includes(v.length)) throw badArgument(`${name} must hold ${lengths.join(' or ')} numbers (got ${v.length})`);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw badArgument(`${name}[${i}] must be a finite number (got ${describe(x)})`);
  });
  return v as number[];
}

export function checkNumberList(v: unknown, name: string, allowNull: boolean): (number | null)[] {
  if (!Array.isArray(v)) throw badArgument(`${name} must be an array of numbers (got ${describe(v)})`);
  v.forEach((x, i) => {
    if (x === null && allowNull) return;
    if (typeof x !== 'number') throw badArgument(`${name}[${i}] must be a number${allowNull ? ' or null' : ''} (got ${describe(x)})`);
  });
  return v as (number | null)[];
}

function isSharp(v: object): boolean {
  const o = v as { toBuffer?: unknown; metadata?: unknown };
  return typeof o.toBuffer === 'function' && typeof o.metadata === 'function';
}

/** An ImageInput by kind only; whether it decodes is the image decoder's check (ERR_VLAC_BAD_IMAGE). */
export function checkImage(v: unknown, name: string): ImageInput {
  if (typeof v === 'string') {
    if (v.length === 0) throw badArgument(`${name} must not be an empty path`);
    return v;
  }
  if (v instanceof Uint8Array) return v;
  if (v !== null && typeof v === 'object') {
    if (isSharp(v)) return v;
    const raw = v as { data?: unknown };
    if (raw.data instanceof Uint8Array) return v;
  }
  throw badArgument(
    `${name} must be an image: a file path, encoded bytes (Uint8Array), { data, width, height, channels } or a sharp instance (got ${describe(v)})`,
  );
}

export function checkImageList(v: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): ImageInput[] {
  if (!Array.isArray(v)) throw badArgument(`${name} must be an array of images (got ${describe(v)})`);
  if (v.length < min || v.length > max) {
    throw badArgument(`${name} must hold ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`} image${max === 1 ? '' : 's'} (got ${v.length})`);
  }
  return v.map((x, i) => checkImage(x, `${name}[${i}]`));
}

export interface CheckedCall {
  maxTokens: number;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export const DEFAULT_MAX_TOKENS = 1024;

export function checkCall(o: CallOptions & Record<string, unknown>, method: string): CheckedCall {
  const maxTokens = checkInt(o.maxTokens, `${method}: maxTokens`, DEFAULT_MAX_TOKENS, 1);
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw badArgument(`${method}: signal must be an AbortSignal`);
  let timeoutMs: number | undefined;
  if (o.timeoutMs !== undefined) timeoutMs = checkNumber(o.timeoutMs, `${method}: timeoutMs`, 0, { min: 0 });
  return { maxTokens, signal, timeoutMs };
}

export function checkFunction(v: unknown, name: string): ((...a: never[]) => unknown) | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw badArgument(`${name} must be a function (got ${describe(v)})`);
  return v as (...a: never[]) => unknown;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'undefined') return String(v);
  return typeof v;
}
