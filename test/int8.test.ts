// weights: 'int8' through the public API (issue 16) on tiny-a: the option loads, info reports it, the
// resident weights shrink, and the greedy replies of the golden cases agree with the goldens up to
// the cases' near-ties (the native test test_int8_model.cpp checks the numbers; docs/TOLERANCES.md, int8).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as quantizeCommand } from '../src/cli/quantize.js';
import { Vlac } from '../src/index.js';
import { fixture, goldenCases, tinyA } from './support/fixtures.js';

let bf16: Vlac;
let int8: Vlac;
beforeAll(async () => {
  bf16 = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048 });
  int8 = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048, weights: 'int8' });
});
afterAll(async () => {
  await bf16.dispose();
  await int8.dispose();
});

describe("weights: 'int8'", () => {
  it('is reported by info, and the resident weights are smaller than bf16', () => {
    expect(bf16.info.weights).toBe('bf16');
    expect(int8.info.weights).toBe('int8');
    expect(int8.info.memory.weightsBytes).toBeLessThan(bf16.info.memory.weightsBytes);
  });

  it('rejects a quantizeLmHead that is not a boolean', async () => {
    await expect(Vlac.load(tinyA, { weights: 'int8', quantizeLmHead: 'yes' as never })).rejects.toMatchObject({
      code: 'ERR_VLAC_BAD_ARGUMENT',
    });
  });

  it('keeps the LM head bf16 when asked, and still generates', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu', weights: 'int8', quantizeLmHead: false });
    try {
      expect(v.info.weights).toBe('int8');
      expect(v.info.memory.weightsBytes).toBeGreaterThan(int8.info.memory.weightsBytes);
      const seq = v.createSequence();
      await seq.prefill({ ids: Int32Array.from(goldenCases()[0].input_ids) });
      const out = await seq.generate({ maxTokens: 4 });
      expect(out.ids.length).toBe(4);
      seq.dispose();
    } finally {
      await v.dispose();
    }
  });

  for (const c of goldenCases()) {
    it(`greedy reply agrees with the golden until a near-tie: ${c.name}`, async () => {
      const seq = int8.createSequence();
      await seq.prefill({ ids: Int32Array.from(c.input_ids), images: c.image_files.map((f) => fixture(f)) });
      const out = await seq.generate({ maxTokens: c.max_new_tokens, stop: c.stop_ids });
      const ids = Array.from(out.ids);
      const first = ids.findIndex((id, i) => id !== c.greedy[i]);
      // a departure is allowed only at a step whose golden margin is within 2x the int8 logit
      // tolerance (0.35 logits, docs/TOLERANCES.md)
      if (first >= 0) expect(c.steps[first].margin).toBeLessThanOrEqual(0.7);
      seq.dispose();
    });
  }

  it('vlac quantize writes a pre-quantized folder that loads as int8 and replies like quantize-on-load', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'vlac-int8-')), 'q');
    try {
      await quantizeCommand([tinyA, out, '--json']);
      const q = await Vlac.load(out, { device: 'cpu', maxContext: 2048 });
      try {
        expect(q.info.weights).toBe('int8');
        expect(q.info.model.storedDtype).toBe('int8');
        expect(q.info.memory.weightsBytes).toBe(int8.info.memory.weightsBytes);
        const c = goldenCases().find((g) => g.image_files.length > 0)!;
        const replies = [];
        for (const v of [q, int8]) {
          const seq = v.createSequence();
          await seq.prefill({ ids: Int32Array.from(c.input_ids), images: c.image_files.map((f) => fixture(f)) });
          replies.push(await seq.generate({ maxTokens: 8, logprobs: 3 }));
          seq.dispose();
        }
        expect(replies[0]).toEqual(replies[1]);
      } finally {
        await q.dispose();
      }
    } finally {
      rmSync(join(out, '..'), { recursive: true, force: true });
    }
  });
});
