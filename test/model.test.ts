// The public API end to end on tiny-a: image files decoded by sharp, preprocessed natively, encoded
// by the ViT, spliced into the prompt, prefilled and decoded greedily, against the official goldens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vlac } from '../src/index.js';
import { fixture, goldenCases, tinyA } from './support/fixtures.js';

// Step logprob tolerance: docs/TOLERANCES.md, "step top-10 logprobs" (the same as the native model test).
const STEP_LOGPROB_TOL = 1e-4;

let vlac: Vlac;
beforeAll(async () => {
  vlac = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048 });
});
afterAll(async () => {
  await vlac.dispose();
});

describe('tiny-a through the public API', () => {
  for (const c of goldenCases()) {
    it(`reproduces the official greedy reply and every step's top-10 logprobs: ${c.name}`, async () => {
      const seq = vlac.createSequence();
      await seq.prefill({ ids: Int32Array.from(c.input_ids), images: c.image_files.map((f) => fixture(f)) });
      expect(seq.length).toBe(c.input_ids.length);
      const out = await seq.generate({ maxTokens: c.max_new_tokens, logprobs: 10, stop: c.stop_ids });
      expect(Array.from(out.ids)).toEqual(c.greedy);
      expect(out.finishReason).toBe('length');
      out.steps.forEach((step, i) => {
        const golden = c.steps[i].top;
        expect(step.top).toHaveLength(10);
        step.top.forEach((t, k) => {
          expect(Math.abs(t.logprob - golden[k][1])).toBeLessThan(STEP_LOGPROB_TOL);
          // ids must agree wherever the neighbours are further apart than the tolerance
          const gapBefore = k > 0 ? golden[k - 1][1] - golden[k][1] : Infinity;
          const gapAfter = k < 9 ? golden[k][1] - golden[k + 1][1] : Infinity;
          if (Math.min(gapBefore, gapAfter) > STEP_LOGPROB_TOL) expect(t.id).toBe(golden[k][0]);
        });
      });
      seq.dispose();
    });
  }
});

describe('task methods on tiny-a against the goldens', () => {
  const byName = (n: string) => goldenCases().find((c) => c.name === n)!;

  function expectGoldenSteps(steps: { id: number; logprob: number; top: { id: number; logprob: number }[] }[], c: ReturnType<typeof byName>) {
    expect(steps.map((s) => s.id)).toEqual(c.greedy);
    steps.forEach((s, i) => s.top.forEach((t, k) => expect(Math.abs(t.logprob - c.steps[i].top[k][1])).toBeLessThan(STEP_LOGPROB_TOL)));
  }

  it('pairCritic on the two-image case generates the golden reply (critic null: random weights; text kept)', async () => {
    const c = byName('two-image');
    const r = await vlac.pairCritic({ task: c.task!, first: fixture(c.image_files[0]), second: fixture(c.image_files[1]), maxTokens: c.max_new_tokens });
    expect(Array.from(r.ids)).toEqual(c.greedy);
    expectGoldenSteps(r.steps, c);
    expect(r.critic).toBeNull();
    expect(r.text.length).toBeGreaterThan(0);
  });

  it('done on the one-image case generates the golden reply', async () => {
    const c = byName('one-image');
    const r = await vlac.done({ task: c.task!, image: fixture(c.image_files[0]), maxTokens: c.max_new_tokens });
    expect(Array.from(r.ids)).toEqual(c.greedy);
    expectGoldenSteps(r.steps, c);
  });

});
