// Trajectory bookkeeping (vlac-behavior.md §3.2, §3.4, §7, §8): reference selection, pairing,
// batching, reverse, skip, done alignment and thresholds, driven through the scripted engine.
import { describe, expect, it } from 'vitest';
import { referencePercent } from '../src/tasks/prompts.js';
import { criticPairs, doneFrames, inContextDoneBatches, selectReference } from '../src/tasks/trajectory.js';
import { scriptedVlac, type ScriptedReply, type ScriptedRequest } from '../src/testing.js';
import { tinyA } from './tasks-helpers.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('reference frames and percentages', () => {
  it.each([
    [6, 6, [0, 1, 2, 3, 4, 5]], [10, 6, [0, 1, 3, 5, 7, 9]], [24, 6, [0, 4, 9, 13, 18, 23]], [50, 6, [0, 9, 19, 29, 39, 49]],
    [100, 6, [0, 19, 39, 59, 79, 99]], [521, 6, [0, 104, 208, 312, 416, 520]], [100, 9, [0, 12, 24, 37, 49, 61, 74, 86, 99]],
    [3, 6, [0, 0, 0, 1, 1, 2]], [62, 8, [0, 8, 17, 26, 34, 43, 52, 60]],
  ])('L=%i n=%i picks %j (double truncation as official)', (L, n, idx) => {
    expect(selectReference(range(L), n)).toEqual(idx);
  });
  it('L=16 n=12 ends at 14, not 15', () => {
    expect(selectReference(range(16), 12).at(-1)).toBe(14);
  });
  it.each([
    [2, '0 100'], [3, '0 50 100'], [4, '0 33 66 100'], [7, '0 16 33 50 66 83 100'], [8, '0 14 28 42 57 71 85 100'],
    [9, '0 12 25 37 50 62 75 87 100'], [12, '0 9 18 27 36 45 54 63 72 81 90 100'],
  ])('percentages for n=%i: %s', (n, s) => {
    expect(range(n).map((i) => referencePercent(i, n)).join(' ')).toBe(s);
  });
  it('n=51, i=29 gives 57 in doubles (not 58)', () => {
    expect(referencePercent(29, 51)).toBe(57);
  });
});

describe('pairs and batches', () => {
  it('frameSkip scores (0,5)...(15,20) of 23 frames; trailing frames are not scored', () => {
    expect(criticPairs(23, 5, true)).toEqual([[0, 5], [5, 10], [10, 15], [15, 20]]);
  });
  it('without frameSkip every overlapping (i-s, i) pair', () => {
    const p = criticPairs(23, 5, false);
    expect(p).toHaveLength(18);
    expect(p[0]).toEqual([0, 5]);
    expect(p.at(-1)).toEqual([17, 22]);
  });
  it('no pairs when L <= s', () => {
    expect(criticPairs(5, 5, true)).toEqual([]);
    expect(criticPairs(1, 1, false)).toEqual([]);
  });
  it('in-context done batches: the first holds batch_num - 1 requests', () => {
    expect(inContextDoneBatches(6, 3)).toEqual([[1, 2], [3, 4, 5]]);
    expect(inContextDoneBatches(5, 3)).toEqual([[1, 2], [3, 4]]);
    expect(inContextDoneBatches(4, 1)).toEqual([[1], [2], [3]]);
    expect(inContextDoneBatches(1, 3)).toEqual([]);
  });
  it('done frames: 0, s, 2s, ... under frameSkip, all frames otherwise', () => {
    expect(doneFrames(23, 5, true)).toEqual([0, 5, 10, 15, 20]);
    expect(doneFrames(4, 5, false)).toEqual([0, 1, 2, 3]);
  });
});

async function scripted(reply: (r: ScriptedRequest) => ScriptedReply) {
  const requests: ScriptedRequest[] = [];
  const v = await scriptedVlac(tinyA, { reply: (r) => { requests.push(r); return reply(r); } });
  return { v, requests };
}
const frames = (n: number) => range(n).map((i) => `f${i}.png`);

describe('trajectory critic through the scripted engine', () => {
  it('uses the api.md defaults: skip 5, frameSkip, batches of 10', async () => {
    const { v, requests } = await scripted(() => ({ text: '10' }));
    const r = await v.trajectoryCritic({ task: 't', frames: frames(56) });
    expect(r.pairs).toHaveLength(11);
    expect(r.pairs[1]).toEqual([5, 10]);
    expect(requests.filter((q) => q.call === 0)).toHaveLength(10);
    expect(requests.filter((q) => q.call === 1)).toHaveLength(1);
    expect(r.value).toHaveLength(12);
  });

  it('reverse swaps the pair images and negates the critic', async () => {
    const { v, requests } = await scripted(() => ({ text: '+7' }));
    const r = await v.trajectoryCritic({ task: 't', frames: frames(3), skip: 1, reverse: true });
    expect(requests.map((q) => q.images)).toEqual([['f1.png', 'f0.png'], ['f2.png', 'f1.png']]);
    expect(r.critic).toEqual([-7, -7]);
    expect(r.pairs).toEqual([[0, 1], [1, 2]]);
  });

  it('a reference shows R, F[0], then the pair; F[0] repeats on the first pair', async () => {
    const { v, requests } = await scripted(() => ({ text: '1' }));
    await v.trajectoryCritic({ task: 't', frames: frames(3), reference: ['r0', 'r1', 'r2', 'r3'], refNum: 3, skip: 1 });
    expect(requests.map((q) => q.images)).toEqual([
      ['r0', 'r1', 'r3', 'f0.png', 'f0.png', 'f1.png'],
      ['r0', 'r1', 'r3', 'f0.png', 'f1.png', 'f2.png'],
    ]);
    expect(requests[0]!.query).toMatch(/^<trajectory> <task> t <\/task>: 0% <image>\n 50% <image>\n 100% <image>\n<\/trajectory>0% <image>\n/);
  });

  it('without frameSkip the critic is divided by skip, then by additionScale', async () => {
    const { v } = await scripted(() => ({ text: '12' }));
    const r = await v.trajectoryCritic({ task: 't', frames: frames(5), skip: 3, frameSkip: false, additionScale: 2 });
    expect(r.pairs).toEqual([[0, 3], [1, 4]]);
    expect(r.critic).toEqual([2, 2]);
  });

  it('an unparsable reply is a null critic, counted, and 0 in the values', async () => {
    const { v } = await scripted((q) => ({ text: q.index === 1 ? 'I think +5' : '10' }));
    const r = await v.trajectoryCritic({ task: 't', frames: frames(4), skip: 1 });
    expect(r.critic).toEqual([10, null, 10]);
    expect(r.unparsed).toBe(1);
    expect(r.value).toEqual([0, 10, 10, 19]);
    expect(r.texts[1]).toBe('I think +5');
  });

  it('think: critics from after </think>, progress per pair, swapped under reverse', async () => {
    const text = '<think>The first image progressing: 20%, the second image progressing: 30%.</think>+10';
    const { v, requests } = await scripted(() => ({ text }));
    const r = await v.trajectoryCritic({ task: 't', frames: frames(2), skip: 1, think: true, reverse: true });
    expect(requests[0]!.query.endsWith(' Please give reasoning process enclosed within <think> reasoning process here </think>.')).toBe(true);
    expect(r.critic).toEqual([-10]);
    expect(r.progress).toEqual([{ first: 30, second: 20 }]);
  });

  it('rich falls back to the plain text when the rich string does not parse', async () => {
    const { v } = await scripted((q) => ({
      text: '12',
      // "12" as two digit tokens: the rich string "1.02.0" does not parse
      tokens: [{ id: 312, token: '1', logprob: 0 }, { id: 313, token: '2', logprob: 0 }, { id: 92542, token: '<|im_end|>', logprob: 0 }],
    }));
    const r = await v.trajectoryCritic({ task: 't', frames: frames(2), skip: 1, rich: true });
    expect(r.critic).toEqual([12]);
  });

  it('done on frames 0, s, 2s (rich, as the web call), booleans strict > threshold', async () => {
    const { v, requests } = await scripted((q) => (q.query.includes('<done>') ? { text: q.images[0] === 'f10.png' ? '1' : '0' } : { text: '5' }));
    const r = await v.trajectoryCritic({ task: 't', frames: frames(12), skip: 5, done: { threshold: 0.9 } });
    const doneReqs = requests.filter((q) => q.query.includes('<done>'));
    expect(doneReqs.map((q) => q.images[0])).toEqual(['f0.png', 'f5.png', 'f10.png']);
    expect(r.done).toEqual([false, false, true]);
    expect(r.doneValues).toEqual([0, 0, 1]);
    expect(r.done).toHaveLength(r.value.length);
    // done requests come first, in their own calls
    expect(requests[0]!.query).toContain('<done>');
  });

  it('in-context done in the trajectory uses (j-1, j), not (j-s, j), and 0 for frame 0', async () => {
    const think = '<think>first image progressing: 40%, second image progressing: 95%</think>+5';
    const { v, requests } = await scripted((q) => ({ text: q.query.includes('<think>') ? think : '5' }));
    const r = await v.trajectoryCritic({
      task: 't', frames: frames(11), skip: 5, reference: ['r0', 'r1'], refNum: 2, done: { threshold: 0.9, inContext: true },
    });
    const ctx = requests.filter((q) => q.query.includes('<think>'));
    expect(ctx.map((q) => q.images.slice(-3))).toEqual([['f0.png', 'f4.png', 'f5.png'], ['f0.png', 'f9.png', 'f10.png']]);
    expect(r.doneValues).toEqual([0, 0.95, 0.95]);
    expect(r.done).toEqual([false, true, true]);
  });
});

describe('done thresholds', () => {
  it('done is strict: 0.9 is not done at threshold 0.9', async () => {
    const { v } = await scripted(() => ({ text: '0.9' }));
    const r = await v.done({ task: 't', image: 'a.png' });
    expect(r).toMatchObject({ value: 0.9, done: false });
    expect((await v.done({ task: 't', image: 'a.png', threshold: 0.89 })).done).toBe(true);
  });
  it('rich done: p(1) = 0.8 gives 0.8, below the default 0.9', async () => {
    const { v } = await scripted(() => ({
      text: '1',
      tokens: [{ id: 312, token: '1', logprob: Math.log(0.8), top: [{ id: 312, token: '1', logprob: Math.log(0.8) }, { id: 300, token: '0', logprob: Math.log(0.2) }] },
        { id: 92542, token: '<|im_end|>', logprob: 0 }],
    }));
    const r = await v.done({ task: 't', image: 'a.png', rich: true });
    expect(r.value).toBe(0.8);
    expect(r.done).toBe(false);
  });
  it('goal-image done: goal first, task optional', async () => {
    const { v, requests } = await scripted(() => ({ text: '1' }));
    await v.done({ task: null, goal: 'g.png', image: 'a.png' });
    expect(requests[0]!.images).toEqual(['g.png', 'a.png']);
    expect(requests[0]!.query).toBe('<goal> <image>\n<goal>\n<image>\n The 1 means yes, the 0 means no. Check if the robot has completed its image goal <done>');
  });
  it('in-context done: B / 100 via "{:.3f}", images R, first, previous, image', async () => {
    const { v, requests } = await scripted(() => ({ text: '<think>first image progressing: 46%, second image progressing: 83.33%</think>+37' }));
    const r = await v.done({ task: 't', image: 'c.png', reference: ['r0', 'r1', 'r2'], refNum: 2, first: 'a.png', previous: 'b.png' });
    expect(requests[0]!.images).toEqual(['r0', 'r2', 'a.png', 'b.png', 'c.png']);
    expect(r.value).toBe(0.833);
    expect(r.done).toBe(false);
  });
  it('trajectoryDone: v if v > threshold else 0, per frame, after skip', async () => {
    const vals: Record<string, string> = { 'f0.png': '0.2', 'f2.png': '0.6', 'f4.png': 'yes' };
    const { v, requests } = await scripted((q) => ({ text: vals[q.images[0] as string]! }));
    const r = await v.trajectoryDone({ task: 't', frames: frames(5), skip: 2, threshold: 0.5 });
    expect(requests.map((q) => q.images[0])).toEqual(['f0.png', 'f2.png', 'f4.png']);
    expect(r.done).toEqual([0, 0.6, 0]);
    expect(r.values).toEqual([0.2, 0.6, null]);
  });
});
