// The streaming critic's background prefill (native/engine/runtime/prefetch.h): after each push the
// next pair's prefix is prefilled on the inference thread. Pushes that arrive while it is queued or
// running wait for it and reply bitwise like trajectoryCritic with skip 1 on an uncached model;
// close() and dispose() cancel it without any error reaching the user.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Vlac } from '../src/index.js';
import { preprocessImage } from '../src/images.js';
import { loadNative } from '../src/native.js';
import { fixture, tinyA } from './support/fixtures.js';

const frames = ['595-6-565-0', '595-44-565-0', '595-134-565-0', '595-139-565-0', '595-292-565-0']
  .map((f) => fixture(`images/test/${f}.jpg`));
const task = 'Scoop the rice into the rice cooker.';

type Replies = { ids: Int32Array; text: string; steps: unknown[] }[];
function expectSameReplies(a: Replies, b: Replies): void {
  expect(a).toHaveLength(b.length);
  for (let i = 0; i < a.length; ++i) {
    expect(Array.from(a[i]!.ids)).toEqual(Array.from(b[i]!.ids));
    expect(a[i]!.text).toBe(b[i]!.text);
    expect(a[i]!.steps).toEqual(b[i]!.steps);
  }
}

// Any rejection nobody handled (a background prefill's error leaking out) fails the test.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await new Promise((r) => setTimeout(r, 20));
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

let cached: Vlac;
let uncached: Vlac;
let expected: Awaited<ReturnType<Vlac['trajectoryCritic']>>;
beforeAll(async () => {
  cached = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048 });
  uncached = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048, cache: { frameBytes: 0, prefixBytes: 0 } });
  expected = await uncached.trajectoryCritic({ task, frames, skip: 1, maxTokens: 3 });
});
afterAll(async () => {
  await cached.dispose();
  await uncached.dispose();
});

describe('criticStream with the background prefill', () => {
  it('pushes sent all at once (each queued behind the previous push\'s background prefill) equal trajectoryCritic skip 1', async () => {
    const s = cached.criticStream({ task, maxTokens: 3 });
    const pushed = await Promise.all(frames.map((f) => s.push(f)));
    s.close();
    expectSameReplies(pushed.slice(1), expected.replies);
    expect(pushed.map((p) => p.value)).toEqual(expected.value);
  });

  it('a push right after close() rejects with ERR_VLAC_DISPOSED; the cancelled prefill leaves the model replying bitwise', async () => {
    for (let round = 0; round < 3; round++) {
      const s = cached.criticStream({ task, maxTokens: 3 });
      await s.push(frames[0]!);
      await s.push(frames[1]!);
      // Its background prefill is being posted or is queued now: close cancels it.
      if (round > 0) await new Promise((r) => setTimeout(r, round * 2));
      s.close();
      await expect(s.push(frames[2]!)).rejects.toMatchObject({ code: 'ERR_VLAC_DISPOSED' });
    }
    const s = cached.criticStream({ task, maxTokens: 3 });
    const out = [];
    for (const f of frames) out.push(await s.push(f));
    s.close();
    expectSameReplies(out.slice(1), expected.replies);
  });

  it('reset() cancels the pending prefill and the next episode still equals the trajectory', async () => {
    const s = cached.criticStream({ task, maxTokens: 3 });
    await s.push(frames[4]!);
    s.reset();
    const out = [];
    for (const f of frames) out.push(await s.push(f));
    s.close();
    expect(out[0]).toMatchObject({ index: 0, critic: null });
    expectSameReplies(out.slice(1), expected.replies);
  });

  it('dispose() while a background prefill is queued resolves, and no error surfaces', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048 });
    const s = v.criticStream({ task, maxTokens: 3 });
    await s.push(frames[0]!);
    await s.push(frames[1]!);
    await v.dispose();
    await expect(s.push(frames[2]!)).rejects.toMatchObject({ code: 'ERR_VLAC_DISPOSED' });
  });
});

describe('NativeModel.prefetchPrefix', () => {
  // A model driven through the addon directly, to queue a prefill behind a long call for sure.
  async function nativeModel() {
    const addon = loadNative() as unknown as {
      NativeModel: new (maxQueue: number) => {
        load(dir: string, o: object): Promise<void>;
        generateBatch(r: object[], o: object, token?: object): Promise<unknown>;
        prefetchPrefix(r: object, token?: object): Promise<{ stored: boolean; cancelled: boolean; prefilledTokens: number }>;
        info(): { cacheBytes: number };
        dispose(): Promise<void>;
      };
      CancelToken: new () => { cancel(): void };
    };
    const m = new addon.NativeModel(4);
    await m.load(tinyA, { maxContext: 2048, weights: 'bf16', frameCacheBytes: 256 << 20, prefixCacheBytes: 512 << 20 });
    const ids = cached.renderPrompt('pair', { task, refNum: 0 }).ids;
    const f0 = (await preprocessImage(frames[0]!)).uint8;
    const pair = new Uint8Array(f0.length * 2);
    pair.set(f0);
    pair.set((await preprocessImage(frames[1]!)).uint8, f0.length);
    // ~1,300 decode steps: the thread is busy while the prefills below are queued.
    const long = () => m.generateBatch([{ ids, tiles: pair }], { maxTokens: 1300, stop: new Int32Array(0) });
    return { addon, m, ids, f0, long };
  }

  it('a queued prefill whose token is cancelled stores nothing; an uncancelled one stores the prefix', async () => {
    const { addon, m, ids, f0, long } = await nativeModel();
    const busy = long();
    const token = new addon.CancelToken();
    const cancelled = m.prefetchPrefix({ ids, tiles: f0 }, token);
    token.cancel();
    await busy;
    expect(await cancelled).toEqual({ stored: false, cancelled: true, prefilledTokens: 0 });
    const bytes = m.info().cacheBytes;  // the long call's frames and shared prefix
    const done = await m.prefetchPrefix({ ids, tiles: f0 });
    expect(done.stored).toBe(true);
    expect(done.cancelled).toBe(false);
    expect(done.prefilledTokens).toBeGreaterThan(256);  // the frame's rows and the text up to Image-2: <img>
    expect(m.info().cacheBytes).toBeGreaterThan(bytes);
    await m.dispose();
  });

  it('is never refused as busy, and a prefill queued at dispose rejects with ERR_VLAC_DISPOSED', async () => {
    const { m, ids, f0, long } = await nativeModel();
    // maxQueue 4: of 30 calls at most 20 are taken (16 replies decoding, the scheduler's room, and
    // four queued; none ends before dispose).
    const calls = Array.from({ length: 30 }, long);
    const prefills = [m.prefetchPrefix({ ids, tiles: f0 }), m.prefetchPrefix({ ids, tiles: f0 })];
    const disposed = m.dispose();
    const settledCalls = await Promise.allSettled(calls);
    const settledPrefills = await Promise.allSettled(prefills);
    await disposed;
    expect(settledCalls.some((p) => p.status === 'rejected' && (p.reason as { code: string }).code === 'ERR_VLAC_BUSY')).toBe(true);
    for (const p of settledPrefills) {
      expect(p.status).toBe('rejected');
      expect((p as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_VLAC_DISPOSED' });
    }
  });

  it('refuses a prompt whose tiles do not match its images with ERR_VLAC_BAD_ARGUMENT', async () => {
    const { m, ids, f0 } = await nativeModel();
    const two = new Uint8Array(f0.length * 2);
    await expect(m.prefetchPrefix({ ids, tiles: two })).rejects.toMatchObject({ code: 'ERR_VLAC_BAD_ARGUMENT' });
    await m.dispose();
  });
});
