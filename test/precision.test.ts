// Load option precision (api: LoadOptions.precision) through the public API on tiny-a: 'bf16' loads
// and is reported, bad values are refused, and its greedy replies follow the goldens up to a near-tie
// (the native test test_model_bf16.cpp checks the logits; docs/TOLERANCES.md, "precision bf16").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vlac } from '../src/index.js';
import { fixture, goldenCases, tinyA } from './support/fixtures.js';

let fp32: Vlac;
let bf16: Vlac;
beforeAll(async () => {
  fp32 = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048 });
  bf16 = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048, precision: 'bf16' });
});
afterAll(async () => {
  await fp32.dispose();
  await bf16.dispose();
});

describe('precision', () => {
  it("is 'fp32' by default and 'bf16' when asked", () => {
    expect(fp32.info.precision).toBe('fp32');
    expect(bf16.info.precision).toBe('bf16');
  });

  for (const bad of ['fp16', 'BF16', 16, null]) {
    it(`refuses precision ${JSON.stringify(bad)} with ERR_VLAC_BAD_ARGUMENT naming the option`, async () => {
      await expect(Vlac.load(tinyA, { precision: bad as never })).rejects.toMatchObject({
        code: 'ERR_VLAC_BAD_ARGUMENT',
        message: expect.stringContaining('precision'),
      });
    });
  }

  for (const c of goldenCases()) {
    it(`bf16 greedy reply agrees with the golden until a near-tie: ${c.name}`, async () => {
      const seq = bf16.createSequence();
      await seq.prefill({ ids: Int32Array.from(c.input_ids), images: c.image_files.map((f) => fixture(f)) });
      const out = await seq.generate({ maxTokens: c.max_new_tokens, stop: c.stop_ids });
      const ids = Array.from(out.ids);
      const first = ids.findIndex((id, i) => id !== c.greedy[i]);
      // a departure is allowed only at a step whose golden margin is within 2x the bf16 logit
      // tolerance (0.1 logits, docs/TOLERANCES.md)
      if (first >= 0) expect(c.steps[first]!.margin).toBeLessThanOrEqual(0.2);
      seq.dispose();
    });
  }

  it('bf16: trajectoryCritic batchSize 1 and 8 and the caches on and off give bitwise the same replies', async () => {
    const frames = ['595-6-565-0', '595-44-565-0', '595-134-565-0', '595-139-565-0', '595-292-565-0']
      .map((f) => fixture(`images/test/${f}.jpg`));
    const args = { task: 'Scoop the rice into the rice cooker.', frames, skip: 1, maxTokens: 4 };
    const uncached = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048, precision: 'bf16', cache: { frameBytes: 0, prefixBytes: 0 } });
    try {
      const runs = [
        await bf16.trajectoryCritic({ ...args, batchSize: 1 }),
        await bf16.trajectoryCritic({ ...args, batchSize: 8 }),
        await uncached.trajectoryCritic({ ...args, batchSize: 1 }),
      ];
      for (const r of runs.slice(1))
        for (let i = 0; i < runs[0]!.replies.length; ++i) {
          expect(Array.from(r.replies[i]!.ids)).toEqual(Array.from(runs[0]!.replies[i]!.ids));
          expect(r.replies[i]!.steps).toEqual(runs[0]!.replies[i]!.steps);
        }
    } finally {
      await uncached.dispose();
    }
  });

  it('bf16 replies differ from fp32 in the step logprobs only slightly', async () => {
    const c = goldenCases().find((g) => g.image_files.length === 2)!;
    const replies = [];
    for (const v of [fp32, bf16]) {
      const seq = v.createSequence();
      await seq.prefill({ ids: Int32Array.from(c.input_ids), images: c.image_files.map((f) => fixture(f)) });
      replies.push(await seq.generate({ maxTokens: 1, logprobs: 1 }));
      seq.dispose();
    }
    const [a, b] = replies.map((r) => r.steps[0]!.logprob);
    expect(Math.abs(a! - b!)).toBeGreaterThan(0); // the option does take effect
    expect(Math.abs(a! - b!)).toBeLessThan(0.1);
  });
});
