// Where vlac-engine deliberately differs from the official VLAC code (docs/API.md, "Deviations"),
// shown on modified replies: the official get_trajectory_critic raises on a reply it cannot parse;
// the engine keeps going with `critic: null` (counted as 0 in the values) and keeps the text.
import { describe, expect, it } from 'vitest';
import { scriptedVlac } from '../src/testing.js';
import { fixture, tinyA } from './support/fixtures.js';

const frames = ['595-6-565-0', '595-44-565-0', '595-134-565-0', '595-139-565-0'].map((f) => fixture(`images/test/${f}.jpg`));

describe('deliberate deviations from the official code', () => {
  it('an unparsable critic reply gives critic null and value unchanged instead of an exception', async () => {
    const replies = ['+10', 'the gripper moved', '+5'];
    const v = await scriptedVlac(tinyA, { reply: (r) => ({ text: replies[r.index] }) });
    const t = await v.trajectoryCritic({ task: 'Scoop the rice into the rice cooker.', frames, skip: 1, batchSize: 3, maxTokens: 3 });
    expect(t.critic).toEqual([10, null, 5]);
    expect(t.texts[1]).toBe('the gripper moved');
    expect(t.value[2]).toBe(t.value[1]); // the null pair adds nothing
    expect(t.value[3]).toBeGreaterThan(t.value[2]);
  });

  it('an unparsable pair critic reply is null with its text, not an error', async () => {
    const v = await scriptedVlac(tinyA, { reply: () => ({ text: 'no number here' }) });
    const r = await v.pairCritic({ task: 'Scoop the rice.', first: frames[0], second: frames[1], maxTokens: 3 });
    expect(r.critic).toBeNull();
    expect(r.text).toBe('no number here');
  });
});
