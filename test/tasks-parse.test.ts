// Parsing of model replies: Python float() acceptance, Python number formatting, think replies,
// rich-mode reconstruction and action blocks. Expected values come from CPython 3.11.
import { describe, expect, it } from 'vitest';
import { parseAction, parsePlain, parseThink } from '../src/tasks/parse.js';
import { parsePyFloat, pyFormatFixed, pyIsDigit, pyMod, pyStr } from '../src/tasks/pynum.js';
import { richText } from '../src/tasks/rich.js';
import type { Step, TokenizerLike } from '../src/tasks/types.js';

describe('Python float() acceptance', () => {
  const cases: [string, number | null][] = [
    ['5', 5], [' -12\n', -12], ['+5', 5], ['5%', null], ['+ 5', null], ['', null], ['1_000', 1000], ['1__0', null],
    ['_1', null], ['1_', null], ['.5', 0.5], ['5.', 5], ['.', null], ['1e5', 100000], ['1E-3', 0.001], ['1e', null],
    ['inf', Infinity], ['-Infinity', -Infinity], ['1.5e+1_0', 15000000000], ['0x10', null], ['1,5', null],
    ['\u3000 7 ', 7], ['\x1c7', null], ['12 34', null], ['\u0663', 3], ['\u0661\u0662.\u0665', 12.5], ['\u00b2', null],
    ['seven', null], ['<think>', null],
  ];
  it.each(cases)('float(%j) = %s', (s, v) => expect(parsePyFloat(s)).toBe(v));
  it('reads nan in any case and sign', () => {
    expect(parsePyFloat('nAn')).toBeNaN();
    expect(parsePyFloat('+nan')).toBeNaN();
  });
  it('plain critic parsing is float() of the whole text', () => {
    expect(parsePlain('+12')).toBe(12);
    expect(parsePlain('-7')).toBe(-7);
    expect(parsePlain('12 points')).toBeNull();
    expect(parsePlain('1.2.3')).toBeNull();
  });
});

describe('Python number formatting', () => {
  it.each([
    [0.25, '0.2', '0.250'], [2.25, '2.2', '2.250'], [0.35, '0.3', '0.350'], [-0.05, '-0.1', '-0.050'], [-0.04, '-0.0', '-0.040'],
    [0.05, '0.1', '0.050'], [11.847826086956522, '11.8', '11.848'], [1e-300, '0.0', '0.000'], [123456789.95, '123456790.0', '123456789.950'],
    [0.15, '0.1', '0.150'], [2.675, '2.7', '2.675'], [1.005, '1.0', '1.005'], [-0, '-0.0', '-0.000'], [99.95, '100.0', '99.950'],
    [47.75, '47.8', '47.750'], [1e22, '10000000000000000000000.0', '10000000000000000000000.000'], [5e-324, '0.0', '0.000'],
  ])('format(%s, .1f/.3f) = %s / %s (half-even on the exact binary value)', (x, one, three) => {
    expect(pyFormatFixed(x, 1)).toBe(one);
    expect(pyFormatFixed(x, 3)).toBe(three);
  });
  it('str() of numbers as the official formatter prints them', () => {
    expect([3.9, 1e-5, 1e16, 123456789012345678, 0.0001, 1.5e-7, 2.5, 1e15 + 0.5, -19, 0].map(pyStr)).toEqual(
      ['3.9', '1e-05', '10000000000000000', '123456789012345680', '0.0001', '1.5e-07', '2.5', '1000000000000000.5', '-19', '0'],
    );
  });
  it('modulo takes the sign of the divisor', () => {
    expect(pyMod(-124631 + 180, 360) - 180).toBe(-71);
    expect(pyMod(190 + 180, 360) - 180).toBe(-170);
    expect(pyMod(-200 + 180, 360) - 180).toBe(160);
    expect(pyMod(360 + 180, 360) - 180).toBe(0);
  });
  it('isdigit accepts Unicode digits, superscripts included', () => {
    expect(['12', '0', '\u0663', '\u00b2', '\u2460'].map(pyIsDigit)).toEqual([true, true, true, true, true]);
    expect(['', '-1', '1.5', ' 1', 'a'].map(pyIsDigit)).toEqual([false, false, false, false, false]);
  });
});

describe('think replies', () => {
  it('reads C after </think> and the two progress percentages', () => {
    const r = parseThink('<think>The first image progressing: 28%, the second image progressing: 71%. Closer.</think>43');
    expect(r).toEqual({ critic: 43, progress: { first: 28, second: 71 } });
  });
  it('a missing </think> or marker gives a null critic (the official code raises)', () => {
    expect(parseThink('first image progressing: 1%, second image progressing: 2% 43').critic).toBeNull();
    expect(parseThink('<think>second image progressing: 2%</think>43').critic).toBeNull();
    expect(parseThink('<think>first image progressing: x%, second image progressing: 2%</think>4').critic).toBeNull();
    expect(parseThink('<think>first image progressing: 1%, second image progressing: 2%</think>4 3').critic).toBeNull();
  });
  it('uses the first occurrence of each marker', () => {
    const r = parseThink('first image progressing: 10% first image progressing: 20% second image progressing: 30%</think>5</think>6');
    expect(r.progress).toEqual({ first: 10, second: 30 });
    expect(r.critic).toBeNull(); // float("5</think>6") raises
  });
});

// A tokenizer for rich mode: decode() of single ids from a table; special ids as InternLM2's.
function fakeTokenizer(pieces: Record<number, string>): TokenizerLike {
  return {
    encode: () => new Int32Array(),
    decode: (ids) => Array.from(ids, (id) => pieces[id] ?? '?').join(''),
    idToToken: (id) => pieces[id] ?? '?',
    tokenToId: () => undefined,
    special: { bos: 1, eos: 2, imStart: 92543, imEnd: 92542, img: 92544, imgEnd: 92545, imgContext: 92546 },
  };
}
const tok = fakeTokenizer({ 285: '-', 342: '+', 92542: '<|im_end|>', 2: '</s>' });
const lp = Math.log;
const step = (id: number, token: string, top: [number, string, number][]): Step => ({
  id, logprob: top.find((t) => t[0] === id)?.[2] ?? 0, top: top.map(([i, t, p]) => ({ id: i, token: t, logprob: p })),
});
const end = step(92542, '<|im_end|>', [[92542, '<|im_end|>', 0]]);

describe('rich mode', () => {
  it('the worked example: "-12" with 12/10/15 above a tenth of the top probability gives -11.8', () => {
    const s = [step(285, '-', [[285, '-', 0]]), step(1, '12', [[1, '12', lp(0.55)], [2, '10', lp(0.25)], [3, '15', lp(0.12)], [4, '1', lp(0.04)], [5, '13', lp(0.03)], [6, 'the', lp(0.01)]]), end];
    expect(richText(s, tok)).toBe('-11.8');
  });
  it('done: p(1) = 0.8, p(0) = 0.2 gives 0.8; p(0) below a tenth of the top gives 1.0', () => {
    expect(richText([step(7, '1', [[7, '1', lp(0.8)], [8, '0', lp(0.2)]]), end], tok)).toBe('0.8');
    expect(richText([step(7, '1', [[7, '1', lp(0.95)], [8, '0', lp(0.04)]]), end], tok)).toBe('1.0');
  });
  it('the candidate comparison is strict and the top entry may be a non-digit', () => {
    const s = [step(9, '3', [[10, '<', lp(0.5)], [9, '3', lp(0.3)], [11, '5', lp(0.04)]]), end];
    expect(richText(s, tok)).toBe('3.0');
    const t = [step(9, '3', [[10, '<', lp(0.5)], [9, '3', lp(0.3)], [11, '5', lp(0.1)]]), end];
    expect(richText(t, tok)).toBe('3.5');
  });
  it('ties round half-even like Python: 0.25 -> "0.2", 2.25 -> "2.2" (JS toFixed gives 0.3, 2.3)', () => {
    // Four equally likely candidates make the mean an exact binary tie.
    const quarter = [step(8, '0', [[8, '0', 0], [9, '0', 0], [10, '0', 0], [7, '1', 0]]), end];
    expect(richText(quarter, tok)).toBe('0.2');
    const twoQuarter = [step(8, '2', [[8, '2', 0], [9, '2', 0], [10, '2', 0], [7, '3', 0]]), end];
    expect(richText(twoQuarter, tok)).toBe('2.2');
  });
  it('drops the last token only when it is a stop token', () => {
    const digit = step(7, '4', [[7, '4', 0]]);
    expect(richText([step(342, '+', [[342, '+', 0]]), digit, end], tok)).toBe('+4.0');
    expect(richText([step(342, '+', [[342, '+', 0]]), digit], tok)).toBe('+4.0');
  });
  it('multi-token numbers break the rich string, which then does not parse', () => {
    const s = [step(7, '1', [[7, '1', 0]]), step(8, '2', [[8, '2', 0]]), end];
    expect(richText(s, tok)).toBe('1.02.0');
    expect(parsePlain(richText(s, tok)!)).toBeNull();
  });
  it('a candidate float() cannot read ("²") fails the rich string', () => {
    expect(richText([step(7, '\u00b2', [[7, '\u00b2', 0]]), end], tok)).toBeNull();
  });
  it('non-digit tokens are copied verbatim, digits inside think text rewritten', () => {
    const s = [step(20, ' progressing: ', [[20, ' progressing: ', 0]]), step(21, '28', [[21, '28', lp(0.5)], [22, '30', lp(0.5)]]), step(23, '%', [[23, '%', 0]]), end];
    expect(richText(s, tok)).toBe(' progressing: 29.0%');
  });
  it('takes the token text from the top entry of the same id, else decodes it', () => {
    expect(richText([{ id: 285, logprob: 0, top: [] }, { id: 7, logprob: 0, top: [{ id: 7, token: '5', logprob: 0 }] }, end], tok)).toBe('-5.0');
  });
});

describe('action replies', () => {
  const block = '{x: -19mm, y: 11mm, z: 418.5mm, roll: -125 degrees, pitch: 65 degrees, yaw: -134 degrees, open: 27}';
  it('reads the x..open block in order', () => {
    expect(parseAction(`<action> ${block} </action>`)).toEqual([-19, 11, 418.5, -125, 65, -134, 27]);
  });
  it('an incomplete block is null', () => {
    expect(parseAction('{x: -19mm, y: 11mm, z: 418mm, roll: -125 degrees}')).toBeNull();
    expect(parseAction('move left')).toBeNull();
  });
  it('two arms read two blocks', () => {
    const two = `\nleft: <action> ${block} </action> \nright: <action> ${block.replace('-19', '3')} </action>`;
    expect(parseAction(two, { arms: 2 })).toEqual([-19, 11, 418.5, -125, 65, -134, 27, 3, 11, 418.5, -125, 65, -134, 27]);
    expect(parseAction(block, { arms: 2 })).toBeNull();
  });
  it('reads the simple (a b c d e f g) form', () => {
    expect(parseAction('<(action)> (1 2 3 -4 5 6 7) </(action)>', { simple: true })).toEqual([1, 2, 3, -4, 5, 6, 7]);
    expect(parseAction('(1, 2, 3, 4, 5, 6, 7.5)', { simple: true })).toEqual([1, 2, 3, 4, 5, 6, 7.5]);
  });
});
