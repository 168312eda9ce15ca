// A row's arithmetic on the CPU does not depend on the rest of its batch, so batching pairs changes
// nothing in the replies: not merely the critic list, every id, text and step logprob, bitwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vlac } from '../src/index.js';
import { fixture, tinyA } from './support/fixtures.js';

let vlac: Vlac;
beforeAll(async () => {
  vlac = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048 });
});
afterAll(async () => {
  await vlac.dispose();
});

describe('batch invariance', () => {
  it('trajectoryCritic gives bitwise the same replies with batchSize 1 and 8 (batch-invariant CPU kernels)', async () => {
    const frames = ['595-6-565-0', '595-44-565-0', '595-134-565-0', '595-139-565-0', '595-292-565-0', '595-354-565-0']
      .map((f) => fixture(`images/test/${f}.jpg`));
    const args = { task: 'Scoop the rice into the rice cooker.', frames, skip: 1, maxTokens: 4 };
    const one = await vlac.trajectoryCritic({ ...args, batchSize: 1 });
    const eight = await vlac.trajectoryCritic({ ...args, batchSize: 8 });
    expect(one.replies).toHaveLength(5);
    for (let i = 0; i < one.replies.length; ++i) {
      expect(Array.from(eight.replies[i].ids)).toEqual(Array.from(one.replies[i].ids));
      expect(eight.replies[i].text).toBe(one.replies[i].text);
      expect(eight.replies[i].steps).toEqual(one.replies[i].steps);
    }
  });
});
