// Reply parsing (vlac-behavior.md §4, §10.3). The official code raises on a reply it cannot read and
// aborts the whole call; the engine returns null with the text kept (Q7), with the same acceptance
// grammar otherwise.
import { parsePyFloat } from './pynum.js';
import type { Progress } from './types.js';

/** Plain mode: Python float() of the whole text. */
export function parsePlain(text: string): number | null {
  return parsePyFloat(text);
}

const THINK_END = '</think>';
const FIRST_MARK = 'first image progressing: ';
const SECOND_MARK = 'second image progressing: ';

// The text after the first `mark` up to the next '%' (to the end when there is none, as Python's
// split('%')[0]), or null when the mark is absent.
function percentAfter(text: string, mark: string): string | null {
  const at = text.indexOf(mark);
  if (at < 0) return null;
  const rest = text.slice(at + mark.length);
  const pct = rest.indexOf('%');
  return pct < 0 ? rest : rest.slice(0, pct);
}

export interface ThinkParse {
  /** C: float of the text after the first `</think>`. */
  critic: number | null;
  /** A and B, the percentages after "first/second image progressing: ". */
  progress: Progress;
}

/**
 * Think mode: `<think> ... first image progressing: A% ... second image progressing: B% ... </think>C`.
 * Where the official code would raise (a marker missing, a number unreadable) the critic is null.
 */
export function parseThink(text: string): ThinkParse {
  const a = percentAfter(text, FIRST_MARK);
  const b = percentAfter(text, SECOND_MARK);
  const first = a === null ? null : parsePyFloat(a);
  const second = b === null ? null : parsePyFloat(b);
  const end = text.indexOf(THINK_END);
  let critic = end < 0 ? null : parsePyFloat(text.slice(end + THINK_END.length));
  if (first === null || second === null) critic = null;
  return { critic, progress: { first, second } };
}

const NUM = '(-?\\d+(?:\\.\\d+)?)';
const ACTION_BLOCK = new RegExp(
  `x:\\s*${NUM}mm,\\s*y:\\s*${NUM}mm,\\s*z:\\s*${NUM}mm,\\s*roll:\\s*${NUM}\\s*degrees,\\s*pitch:\\s*${NUM}\\s*degrees,\\s*yaw:\\s*${NUM}\\s*degrees,\\s*open:\\s*${NUM}`,
  'g',
);
const SIMPLE_BLOCK = new RegExp(`\\(\\s*${Array(7).fill(NUM).join('[\\s,]+')}\\s*\\)`, 'g');

/**
 * The engine's action reading (§10.3, not official): the `{x: ...mm, ..., open: ...}` blocks (or the
 * simple `(a b c d e f g)` form) in the order x, y, z, roll, pitch, yaw, open. Two arms give 14
 * numbers. Null when no complete block is present.
 */
export function parseAction(text: string, opts: { simple?: boolean; arms?: number } = {}): number[] | null {
  const arms = opts.arms ?? 1;
  // The format the prompt asked for first, then the other one.
  for (const re of opts.simple ? [SIMPLE_BLOCK, ACTION_BLOCK] : [ACTION_BLOCK, SIMPLE_BLOCK]) {
    const blocks: number[][] = [];
    for (const m of text.matchAll(re)) blocks.push(m.slice(1, 8).map(Number));
    if (blocks.length >= arms) return blocks.slice(0, arms).flat();
  }
  return null;
}
