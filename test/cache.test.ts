// The frame-embedding and prefix KV caches (native/engine/runtime/cached_batch.h) change no reply:
// trajectoryCritic and criticStream with the caches on give bitwise the replies of the caches off
// (ids, texts, step logprobs), while fewer tiles go through the ViT and fewer tokens are prefilled.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Vlac } from '../src/index.js';
import type { CacheCounters } from '../src/vlac.js';
import { fixture, tinyA } from './support/fixtures.js';

const frames = ['595-6-565-0', '595-44-565-0', '595-134-565-0', '595-139-565-0', '595-292-565-0']
  .map((f) => fixture(`images/test/${f}.jpg`));
const reference = ['595-6-565-1', '595-354-565-1'].map((f) => fixture(`images/test/${f}.jpg`));
const task = 'Scoop the rice into the rice cooker.';

let cached: Vlac;
let uncached: Vlac;
beforeAll(async () => {
  cached = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048 });
  uncached = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048, cache: { frameBytes: 0, prefixBytes: 0 } });
});
afterAll(async () => {
  await cached.dispose();
  await uncached.dispose();
});

type Replies = { ids: Int32Array; text: string; steps: unknown[] }[];
function expectSameReplies(a: Replies, b: Replies): void {
  expect(a).toHaveLength(b.length);
  for (let i = 0; i < a.length; ++i) {
    expect(Array.from(a[i]!.ids)).toEqual(Array.from(b[i]!.ids));
    expect(a[i]!.text).toBe(b[i]!.text);
    expect(a[i]!.steps).toEqual(b[i]!.steps);
  }
}

// What the caches counted during fn.
async function counted<T>(v: Vlac, fn: () => Promise<T>): Promise<{ result: T; delta: CacheCounters }> {
  const before = v.info.cache;
  const result = await fn();
  const after = v.info.cache;
  const delta = Object.fromEntries(Object.entries(after).map(([k, n]) => [k, n - before[k as keyof CacheCounters]])) as unknown as CacheCounters;
  return { result, delta };
}

describe('frame and prefix caches', () => {
  it('trajectoryCritic with a 2-frame reference: the same replies with the caches on and off, each frame through the ViT once', async () => {
    const args = { task, frames, reference, refNum: 2, skip: 1, batchSize: 2, maxTokens: 3 };
    const on = await counted(cached, () => cached.trajectoryCritic(args));
    const off = await counted(uncached, () => uncached.trajectoryCritic(args));
    expectSameReplies(on.result.replies, off.result.replies);
    expect(on.result.critic).toEqual(off.result.critic);
    // 4 pairs x 5 tiles (2 references, frame 0, the pair) without the cache; with it, 2 references + 5 frames.
    expect(off.delta.frameMisses).toBe(20);
    expect(on.delta.frameMisses).toBe(7);
    expect(on.delta.frameHits).toBe(13);
    // tiny-a's max_position_embeddings is 1,024 and these prompts are ~1,479 tokens: past the
    // dynamic-NTK threshold the prefix is not reused (cached_batch.h), so the prefill is the same.
    expect(on.delta.prefilledTokens).toBe(off.delta.prefilledTokens);
    expect(on.delta.prefixTokensReused).toBe(0);
  });

  it('trajectoryCritic without reference: the same replies, and each pair prefills only what follows `Image-1: <img>`', async () => {
    const args = { task, frames, skip: 1, batchSize: 2, maxTokens: 3 };
    const on = await counted(cached, () => cached.trajectoryCritic(args));
    const off = await counted(uncached, () => uncached.trajectoryCritic(args));
    expectSameReplies(on.result.replies, off.result.replies);
    expect(off.delta.prefixTokensReused).toBe(0);
    // The shared prefix is computed once (the first batch) and reused by the 3 other pairs.
    expect(on.delta.prefixTokensReused).toBeGreaterThan(0);
    expect(on.delta.prefixHits).toBe(2);  // the second batch's two pairs start from the stored prefix
    expect(on.delta.prefilledTokens + on.delta.prefixTokensReused).toBe(off.delta.prefilledTokens);
    expect(on.delta.frameMisses).toBe(0);  // every frame is in the cache since the first test
  });

  it('criticStream pushes equal trajectoryCritic with skip 1 and reuse the cache', async () => {
    for (const withReference of [false, true]) {
      const refArgs = withReference ? { reference, refNum: 2 } : {};
      const traj = await uncached.trajectoryCritic({ task, frames, skip: 1, maxTokens: 3, ...refArgs });
      const stream = cached.criticStream({ task, maxTokens: 3, ...refArgs });
      const hitsBefore = cached.info.cache.prefixHits;
      const { result: pushed, delta } = await counted(cached, async () => {
        const out = [];
        for (const f of frames) out.push(await stream.push(f));
        // The last push's background prefill is queued once its images are decoded (asynchronously,
        // after the push resolved): wait until it has started (its prefix hit counted) ...
        if (!withReference) await vi.waitFor(() => expect(cached.info.cache.prefixHits - hitsBefore).toBe(4 + 5), { timeout: 20_000 });
        // ... then a call queued behind it returns after it: the counters include all of it.
        await cached.encodeImages([frames[0]!]);
        return out;
      });
      stream.close();
      expectSameReplies(pushed.slice(1), traj.replies);
      expect(pushed.slice(1).map((p) => p.critic)).toEqual(traj.critic);
      expect(pushed.map((p) => p.value)).toEqual(traj.value);
      expect(delta.frameMisses).toBe(0);  // the trajectories above encoded these frames already
      if (!withReference) {
        // Each push forks the prefix its predecessor prefetched (through `Image-2: <img>`) and
        // prefills only the new frame and the tail; each background prefill (after every push,
        // the last included) starts from the shared prefix (through `Image-1: <img>`) and
        // prefills the frame just pushed and the text up to `Image-2: <img>`.
        const ids = Array.from(cached.renderPrompt('pair', { task, refNum: 0 }).ids);
        const img = cached.tokenizer.special.imgContext;
        const runs = ids.flatMap((id, i) => (id === img && ids[i - 1] !== img ? [i] : []));
        const [B, L] = runs as [number, number];
        expect(delta.prefixHits).toBe(4 + 5);
        expect(delta.prefilledTokens).toBe(4 * (ids.length - L) + 5 * (L - B));
      }
    }
  });

  it('reports what the caches hold, and 0 bytes when they are off', () => {
    expect(cached.info.memory.cacheBytes).toBeGreaterThan(0);
    expect(uncached.info.memory.cacheBytes).toBe(0);
    expect(uncached.info.cache.frameHits).toBe(0);
  });

  it('rejects a negative or fractional cache size', async () => {
    await expect(Vlac.load(tinyA, { cache: { frameBytes: -1 } })).rejects.toMatchObject({ code: 'ERR_VLAC_BAD_ARGUMENT' });
    await expect(Vlac.load(tinyA, { cache: { prefixBytes: 1.5 } })).rejects.toMatchObject({ code: 'ERR_VLAC_BAD_ARGUMENT' });
  });
});
