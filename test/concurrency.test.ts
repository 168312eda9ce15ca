// Many callers on one model (issue 17): 64 concurrent callers (pair critics, done calls and
// streaming critics with their background prefills, interleaved on the one inference thread) get
// exactly the replies of the same calls made one after the other; memory stays bounded by the cache
// budgets; a flood past maxQueue is refused with ERR_VLAC_BUSY and the engine keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vlac } from '../src/index.js';
import { fixture, tinyA } from './support/fixtures.js';

const images = ['595-6-565-0', '595-44-565-0', '595-134-565-0', '595-139-565-0', '595-292-565-0', '595-354-565-0',
  '595-6-565-1', '595-134-565-2'].map((f) => fixture(`images/test/${f}.jpg`));
const tasks = ['Scoop the rice into the rice cooker.', 'Put the cup on the plate.'];
const FRAME_BYTES = 8 * 2 ** 20, PREFIX_BYTES = 16 * 2 ** 20;

type Reply = { ids: Int32Array; text: string; steps: unknown[] };
const same = (r: Reply) => ({ ids: Array.from(r.ids), text: r.text, steps: r.steps });

// The 64 callers: 40 pair critics, 8 done calls, 4 streams of 4 pushes (each push a caller).
type Caller = () => Promise<Reply[]>;
function callers(v: Vlac): Caller[] {
  const out: Caller[] = [];
  for (let i = 0; i < 40; i++) {
    const first = images[i % images.length]!, second = images[(i * 3 + 1) % images.length]!;
    out.push(async () => [await v.pairCritic({ task: tasks[i % 2]!, first, second, maxTokens: 3 })]);
  }
  for (let i = 0; i < 8; i++) out.push(async () => [await v.done({ task: tasks[i % 2]!, image: images[i]!, maxTokens: 3 })]);
  for (let s = 0; s < 4; s++) {
    const stream = v.criticStream({ task: tasks[s % 2]!, maxTokens: 3 });
    for (let k = 0; k < 4; k++) out.push(async () => [await stream.push(images[(s + k * 2) % images.length]!)]);
  }
  return out;
}

let vlac: Vlac;
let sequential: ReturnType<typeof same>[][];
beforeAll(async () => {
  vlac = await Vlac.load(tinyA, { device: 'cpu', cache: { frameBytes: FRAME_BYTES, prefixBytes: PREFIX_BYTES } });
  sequential = [];
  for (const call of callers(vlac)) sequential.push((await call()).map(same));
});
afterAll(async () => {
  await vlac?.dispose();
});

describe('many callers on one model', () => {
  it('64 concurrent callers get exactly the sequential replies, and memory stays bounded', async () => {
    expect(sequential).toHaveLength(64);
    const rss: number[] = [];
    for (let round = 0; round < 5; round++) {
      const concurrent = await Promise.all(callers(vlac).map((call) => call()));
      expect(concurrent.map((r) => r.map(same))).toEqual(sequential);
      rss.push(process.memoryUsage().rss);
      expect(vlac.info.memory.cacheBytes).toBeLessThanOrEqual(FRAME_BYTES + PREFIX_BYTES);
    }
    // RSS is reported, not asserted: with glibc's default allocator its level after 5 rounds moved by
    // up to ~120 MiB between clean-clone CI runs (arena retention, not engine memory: the soak,
    // scripts/soak.mjs, measures the plateau); the engine's own memory is the cache bound above.
    console.log(`RSS per round (MiB): ${rss.map((r) => (r / 2 ** 20).toFixed(1)).join(' ')}`);
  });

  it('a flood past maxQueue is refused with ERR_VLAC_BUSY, what was taken replies correctly, and the engine keeps serving', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu', maxQueue: 8 });
    try {
      const args = { task: tasks[0]!, first: images[0]!, second: images[1]!, maxTokens: 3 };
      const expected = same(await v.pairCritic(args));
      const flood = await Promise.allSettled(Array.from({ length: 200 }, () => v.pairCritic(args)));
      const refused = flood.filter((s) => s.status === 'rejected');
      const served = flood.filter((s) => s.status === 'fulfilled');
      expect(refused.length).toBeGreaterThan(0);
      expect(served.length).toBeGreaterThan(0);
      for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_VLAC_BUSY' });
      for (const s of served) expect(same((s as PromiseFulfilledResult<Reply>).value)).toEqual(expected);
      // Still serving: one call, then a stream with its background prefills.
      expect(same(await v.pairCritic(args))).toEqual(expected);
      const stream = v.criticStream({ task: tasks[0]!, maxTokens: 3 });
      await stream.push(images[0]!);
      expect(same(await stream.push(images[1]!))).toEqual(expected);
      stream.close();
    } finally {
      await v.dispose();
    }
  });
});
