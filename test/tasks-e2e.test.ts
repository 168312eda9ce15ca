// Every task method on tiny-a through the native engine (random weights: replies are noise, so the
// checks are on shapes, lengths and consistency; the golden-exact checks are in model.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vlac } from '../src/index.js';
import { fixture, tinyA } from './support/fixtures.js';

const frames = ['595-6-565-0', '595-44-565-0', '595-134-565-0', '595-139-565-0'].map((f) => fixture(`images/test/${f}.jpg`));
const reference = ['599-0-521-0', '599-200-521-0', '599-457-521-0'].map((f) => fixture(`images/ref/${f}.jpg`));
const task = 'Scoop the rice into the rice cooker.';
const maxTokens = 3;

let vlac: Vlac;
beforeAll(async () => {
  vlac = await Vlac.load(tinyA, { device: 'cpu', maxContext: 4096 });
});
afterAll(async () => {
  await vlac.dispose();
});

function wellFormed(r: { text: string; ids: Int32Array; steps: { top: unknown[] }[]; finishReason: string }) {
  expect(typeof r.text).toBe('string');
  expect(r.ids).toBeInstanceOf(Int32Array);
  expect(r.ids.length).toBe(maxTokens);
  expect(r.steps).toHaveLength(maxTokens);
  r.steps.forEach((s) => expect(s.top).toHaveLength(10));
  expect(r.finishReason).toBe('length');
}

describe('every task method on tiny-a', () => {
  it('pairCritic, with and without a reference, plain and think', async () => {
    wellFormed(await vlac.pairCritic({ task, first: frames[0], second: frames[1], maxTokens }));
    wellFormed(await vlac.pairCritic({ task, first: frames[0], second: frames[1], reference, refNum: 2, maxTokens }));
    wellFormed(await vlac.pairCritic({ task, first: frames[0], second: frames[1], think: true, rich: true, maxTokens }));
  });

  it('done: plain, goal image and in-context', async () => {
    const plain = await vlac.done({ task, image: frames[3], maxTokens });
    wellFormed(plain);
    expect(typeof plain.done).toBe('boolean');
    wellFormed(await vlac.done({ task, image: frames[3], goal: frames[2], maxTokens }));
    wellFormed(await vlac.done({ task, image: frames[3], reference, first: frames[0], previous: frames[2], refNum: 2, maxTokens }));
  });

  it('trajectoryCritic with done, and trajectoryDone', async () => {
    const t = await vlac.trajectoryCritic({ task, frames, skip: 1, batchSize: 2, done: { threshold: 0.9 }, maxTokens });
    expect(t.pairs).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(t.value).toHaveLength(4);
    expect(t.done).toHaveLength(4);
    t.replies.forEach(wellFormed);
    const d = await vlac.trajectoryDone({ task, frames, batchSize: 2, maxTokens });
    expect(d.done).toHaveLength(frames.length);
    d.replies.forEach(wellFormed);
  });

  it('action, actionScore, actionInverse and describe', async () => {
    const a = await vlac.action({ task, images: [frames[0], frames[1]], state: [1200, -300, 4500, 0, 90000, 0, 1], maxTokens });
    wellFormed(a);
    expect(a.action === null || Array.isArray(a.action)).toBe(true);
    wellFormed(await vlac.actionScore({ task, image: frames[0], state: [1, 2, 3, 4, 5, 6, 7], action: [1, 2, 3, 4, 5, 6, 7], maxTokens }));
    wellFormed(await vlac.actionInverse({ first: frames[0], second: frames[1], maxTokens }));
    wellFormed(await vlac.describe({ first: frames[0], last: frames[3], maxTokens }));
  });

  it('generate (free chat), seeded sampling reproducible', async () => {
    const a = await vlac.generate({ prompt: 'What is on the table?', images: [frames[0]], maxTokens, temperature: 0.8, seed: 7 });
    const b = await vlac.generate({ prompt: 'What is on the table?', images: [frames[0]], maxTokens, temperature: 0.8, seed: 7 });
    wellFormed(a);
    expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
  });

  it('criticStream pushes equal trajectoryCritic with skip 1', async () => {
    const s = vlac.criticStream({ task, maxTokens });
    const pushed = [];
    for (const f of frames) pushed.push(await s.push(f));
    s.close();
    const t = await vlac.trajectoryCritic({ task, frames, skip: 1, batchSize: 1, maxTokens });
    for (let i = 1; i < frames.length; ++i) expect(Array.from(pushed[i].ids)).toEqual(Array.from(t.replies[i - 1].ids));
  });

  it('voc, dataQuality and renderPrompt are pure', () => {
    expect(vlac.voc([1, 2, 3, 4])).toBeCloseTo(1);
    const q = vlac.dataQuality([10, -5, 20, 3], { skip: 1 });
    expect(q.negativeRate).toBeCloseTo(0.25);
    const p = vlac.renderPrompt('pair', { task, refNum: 0 });
    expect(p.imageSlots).toBe(2);
    expect(p.ids[0]).toBe(vlac.tokenizer.special.bos);
  });
});
