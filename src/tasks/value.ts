// Value accumulation, critic post-processing and the data-filtering statistics
// (vlac-behavior.md §6, §11), in the official order of floating-point operations.
import type { DataQualityResult, ValueMode } from './types.js';

/**
 * `critic_to_value_simple(critics, simple)`: v0 = 0, one value per critic after it. 'simple' is the
 * official `True`, 'ratio' any other non-'mix_f' value (`False`). No clipping (Q21). Where the official
 * formula divides by (100 + c), a critic <= -100 keeps the previous value instead of dividing by
 * zero or flipping the sign.
 */
export function criticToValue(critics: readonly number[], mode: ValueMode = 'simple'): number[] {
  const values = [0];
  let v = 0;
  for (const c of critics) {
    v = nextValue(v, c, mode);
    values.push(v);
  }
  return values;
}

/** One step of criticToValue: the value after critic c from value v. */
export function nextValue(v: number, c: number, mode: ValueMode): number {
  if (c > 0 || mode === 'simple') return v + ((100 - v) * c) / 100;
  if (mode === 'mix_f' && v <= 50) return v + (v * c) / 100;
  if (c > -100) {
    const ratio = 100 - (Math.max(100 - v, 1) / (100 + c)) * 100;
    return mode === 'mix_f' ? Math.max(10, ratio) : ratio;
  }
  return v; // rather than divide by zero or flip the sign (Q21)
}

export interface PostProcessOptions {
  valueMode: ValueMode;
  relatedCritic: boolean;
  bias: number;
  positiveClip: number;
  negativeClip: number;
}

/**
 * Steps 3-8 of §6 on critics already divided by skip / addition scale: values, the related-critic
 * rewrite, bias, the clips, and the recomputed values.
 */
export function postProcess(critics: readonly number[], o: PostProcessOptions): { critic: number[]; value: number[] } {
  let c = critics.slice();
  const v = criticToValue(c, o.valueMode);
  if (o.relatedCritic) c = c.map((_, k) => v[k + 1]! - v[k]!);
  if (o.bias !== 0) c = c.map((x) => x + o.bias);
  if (o.positiveClip !== 0) c = c.map((x) => (x >= 0 && x <= o.positiveClip ? 0 : x));
  if (o.negativeClip !== 0) c = c.map((x) => (x >= -o.negativeClip && x <= 0 ? 0 : x));
  let value: number[];
  if (o.relatedCritic) {
    value = [0];
    for (const x of c) value.push(value[value.length - 1]! + x);
  } else {
    value = criticToValue(c, o.valueMode);
  }
  return { critic: c, value };
}

// Average ranks (scipy rankdata 'average'), 1-based.
function rankAverage(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = r;
    i = j + 1;
  }
  return ranks;
}

/**
 * `compute_voc`: Spearman's rho between the values and 0..T-1 (average ranks for ties), computed as
 * the Pearson correlation of the ranks. NaN for fewer than 2 values, constant values or any NaN.
 */
export function voc(values: readonly number[]): number {
  const n = values.length;
  if (n < 2 || values.some((x) => Number.isNaN(x))) return NaN;
  const rx = rankAverage(values);
  const ry = values.map((_, i) => i + 1);
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / n;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = rx[i]! - mx;
    const dy = ry[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0) return NaN;
  const r = sxy / Math.sqrt(sxx) / Math.sqrt(syy);
  return Math.max(-1, Math.min(1, r));
}

/** `compute_negative_rate`: the fraction of critics strictly below 0 (NaN for an empty list). */
export function negativeRate(critics: readonly (number | null)[]): number {
  if (critics.length === 0) return NaN;
  return critics.filter((c) => c !== null && c < 0).length / critics.length;
}

/**
 * The official data-filtering diagnosis (§11): VOC on the 'mix_f' values (null critics count as 0),
 * the negative rate, and the frame ranges of the negative pairs (critic k covers frames k*s..(k+1)*s
 * under frameSkip, else k..k+s).
 */
export function dataQuality(critics: readonly (number | null)[], opts: { skip: number; frameSkip: boolean }): DataQualityResult {
  const values = criticToValue(critics.map((c) => c ?? 0), 'mix_f');
  const negativeSteps: [number, number][] = [];
  critics.forEach((c, k) => {
    if (c !== null && c < 0) negativeSteps.push(opts.frameSkip ? [k * opts.skip, (k + 1) * opts.skip] : [k, k + opts.skip]);
  });
  return { voc: voc(values), negativeRate: negativeRate(critics), negativeSteps };
}
