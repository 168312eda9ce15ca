// Value accumulation, critic post-processing and data-filtering statistics (vlac-behavior.md §6, §11).
import { describe, expect, it } from 'vitest';
import { criticToValue, dataQuality, negativeRate, postProcess, voc } from '../src/tasks/value.js';

const close = (a: number[], b: number[]) => {
  expect(a).toHaveLength(b.length);
  a.forEach((x, i) => expect(x).toBeCloseTo(b[i]!, 10));
};
const none = { valueMode: 'simple' as const, relatedCritic: false, bias: 0, positiveClip: 0, negativeClip: 0 };

describe('critic to value', () => {
  it('the worked example [10, 20, -5, 30] in simple and mix_f modes', () => {
    close(criticToValue([10, 20, -5, 30], 'simple'), [0, 10, 28, 24.4, 47.08]);
    close(criticToValue([10, 20, -5, 30], 'mix_f'), [0, 10, 28, 26.6, 48.62]);
  });
  it('the second example [60, -10, 0, -20]', () => {
    close(criticToValue([60, -10, 0, -20], 'simple'), [0, 60, 56, 56, 47.2]);
    close(criticToValue([60, -10, 0, -20], 'mix_f'), [0, 60, 100 - 40 / 90 * 100, 100 - 40 / 90 * 100, 100 - (100 - (100 - 40 / 90 * 100)) / 80 * 100]);
  });
  it('simple mode has no clipping: below 0 and above 100', () => {
    close(criticToValue([-10, 5], 'simple'), [0, -10, -4.5]);
    expect(criticToValue([150], 'simple')[1]).toBe(150);
  });
  it('ratio mode (official False) divides the remaining gap', () => {
    close(criticToValue([50, -50], 'ratio'), [0, 50, 0]);
  });
  it("mix_f treats a critic of exactly 0 as negative: a value above 99 clamps to 99", () => {
    expect(criticToValue([99.5, 0], 'mix_f')[2]).toBe(99);
    expect(criticToValue([99.5, 0], 'simple')[2]).toBe(99.5);
  });
  it('mix_f keeps at least 10 above 50', () => {
    expect(criticToValue([60, -90], 'mix_f')[2]).toBe(10);
  });
  it('a critic <= -100 where the formula divides by 100 + c keeps the previous value (Q21)', () => {
    expect(criticToValue([60, -100], 'mix_f')).toEqual([0, 60, 60]);
    expect(criticToValue([60, -150], 'ratio')).toEqual([0, 60, 60]);
    // mix_f at v <= 50 does not divide: the official formula applies
    close(criticToValue([20, -150], 'mix_f'), [0, 20, -10]);
  });
  it('an empty list is the single value 0', () => {
    expect(criticToValue([], 'simple')).toEqual([0]);
  });
});

describe('post-processing order', () => {
  it('with the defaults the critics and values are unchanged', () => {
    const r = postProcess([10, -5, 30], none);
    expect(r.critic).toEqual([10, -5, 30]);
    expect(r.value).toEqual(criticToValue([10, -5, 30]));
  });
  it('bias is added before the clips', () => {
    expect(postProcess([-0.5, 4.5, 10], { ...none, bias: 0.5, positiveClip: 5 }).critic).toEqual([0, 0, 10.5]);
  });
  it('positiveClip zeroes 0 <= c <= p only; negativeClip zeroes -q <= c <= 0 only', () => {
    expect(postProcess([0, 3, 5, 5.01, -2], { ...none, positiveClip: 5 }).critic).toEqual([0, 0, 0, 5.01, -2]);
    expect(postProcess([0, -3, -3.01, 2], { ...none, negativeClip: 3 }).critic).toEqual([0, 0, -3.01, 2]);
  });
  it('relatedCritic rewrites critics as value differences and values as their running sum', () => {
    const v = criticToValue([31, -5, 20], 'ratio');
    const r = postProcess([31, -5, 20], { ...none, valueMode: 'ratio', relatedCritic: true });
    expect(r.critic).toEqual([v[1]! - v[0]!, v[2]! - v[1]!, v[3]! - v[2]!]);
    expect(r.value[0]).toBe(0);
    r.value.forEach((x, i) => expect(x).toBeCloseTo(v[i]!, 10));
  });
});

describe('VOC and negative rate', () => {
  it('the worked example: ranks [1,2,4,3,5] give 0.9', () => {
    expect(voc([0, 10, 28, 24.4, 47.08])).toBeCloseTo(0.9, 14);
  });
  it('ties take average ranks', () => {
    // ranks [1, 2.5, 2.5, 4] against [1, 2, 3, 4]
    expect(voc([0, 5, 5, 9])).toBeCloseTo(0.9486832980505138, 14);
  });
  it('a constant curve, a single value or a NaN gives NaN', () => {
    expect(voc([3, 3, 3])).toBeNaN();
    expect(voc([0])).toBeNaN();
    expect(voc([0, NaN, 2])).toBeNaN();
  });
  it('a decreasing curve is -1', () => {
    expect(voc([5, 4, 3, 2])).toBe(-1);
  });
  it('the negative rate is strict and counts over every critic', () => {
    expect(negativeRate([1, 0, -1, -0.5])).toBe(0.5);
    expect(negativeRate([null, -1])).toBe(0.5);
    expect(negativeRate([])).toBeNaN();
  });
});

describe('data quality', () => {
  it('VOC on the mix_f values, negative rate, and the frame ranges of negative pairs', () => {
    const c = [10, -5, 20, -1];
    const r = dataQuality(c, { skip: 5, frameSkip: true });
    expect(r.voc).toBe(voc(criticToValue(c, 'mix_f')));
    expect(r.negativeRate).toBe(0.5);
    expect(r.negativeSteps).toEqual([[5, 10], [15, 20]]);
    expect(dataQuality(c, { skip: 3, frameSkip: false }).negativeSteps).toEqual([[1, 4], [3, 6]]);
  });
  it('null critics count as 0 in the values and are never negative', () => {
    const r = dataQuality([10, null, -5], { skip: 1, frameSkip: true });
    expect(r.voc).toBe(voc(criticToValue([10, 0, -5], 'mix_f')));
    expect(r.negativeSteps).toEqual([[2, 3]]);
  });
});
