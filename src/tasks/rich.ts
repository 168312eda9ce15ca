// Rich mode (vlac-behavior.md §5): every digit token of the reply is replaced by the probability-
// weighted mean of the digit candidates among its top logprobs, formatted like Python's '.1f'.
import { pyFormatFixed, pyIsDigit, parsePyFloat } from './pynum.js';
import type { Step, TokenizerLike } from './types.js';

/** Candidates below this fraction of the top entry's probability are left out (strict). */
const CANDIDATE_RATIO = 0.1;

/** The ids that end a reply: the official stop set (generation_config eos, `<|im_end|>`, `</s>`). */
export function stopIds(tokenizer: TokenizerLike): Set<number> {
  const sp = tokenizer.special;
  return new Set([sp.eos, sp.imEnd, sp.imStart]);
}

// The official weights are `math.e ** logprob` (a pow with the double e, not exp).
function prob(logprob: number): number {
  return Math.E ** logprob;
}

/**
 * The rich string of a reply, or null where the official reconstruction fails (no digit candidate,
 * a candidate float() cannot read such as "²"). Each token's text is its own decoding: the top
 * entry of the same id, else the tokenizer's. The official code skips the last token as the stop
 * token (`[:-1]`); here it is skipped only when it is one (Q8), so a length-stopped reply keeps it.
 */
export function richText(steps: readonly Step[], tokenizer: TokenizerLike): string | null {
  const stops = stopIds(tokenizer);
  const n = steps.length > 0 && stops.has(steps[steps.length - 1]!.id) ? steps.length - 1 : steps.length;
  let out = '';
  for (let k = 0; k < n; k++) {
    const step = steps[k]!;
    const s = step.top.find((e) => e.id === step.id)?.token ?? tokenizer.decode([step.id]);
    if (!pyIsDigit(s)) {
      out += s;
      continue;
    }
    if (step.top.length === 0) return null;
    const threshold = CANDIDATE_RATIO * prob(step.top[0]!.logprob);
    let weighted = 0;
    let total = 0;
    for (const e of step.top) {
      const p = prob(e.logprob);
      if (!pyIsDigit(e.token) || !(p > threshold)) continue;
      const d = parsePyFloat(e.token);
      if (d === null) return null;
      weighted += d * p;
      total += p;
    }
    if (total === 0) return null;
    out += pyFormatFixed(weighted / total, 1);
  }
  return out;
}
