// The inference thread's scheduler (native/engine/runtime/call_scheduler.h): generateBatch calls
// waiting at once are prepared in one batch and decode together, and a call arriving while others
// decode joins them at the next step. Every reply equals the same call made alone, bit for bit,
// and a cancelled call leaves the others' replies as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vlac } from '../src/index.js';
import { preprocessImage } from '../src/images.js';
import { loadNative } from '../src/native.js';
import { fixture, tinyA } from './support/fixtures.js';

type Reply = { ids: Int32Array; text: string; finishReason: string; steps: unknown[] };
type Out = { replies: Reply[]; batch: { preparedWith: number; peakDecoding: number } };
type NativeModel = {
  load(dir: string, o: object): Promise<void>;
  generateBatch(r: object[], o: object, token?: object): Promise<Out>;
  createSequence(): { prefill(ids: Int32Array): Promise<number>; generate(o: object): Promise<unknown> };
  dispose(): Promise<void>;
};
const addon = loadNative() as unknown as {
  NativeModel: new (maxQueue: number) => NativeModel;
  CancelToken: new () => { cancel(): void };
};

const frames = ['595-6-565-0', '595-44-565-0', '595-134-565-0', '595-139-565-0']
  .map((f) => fixture(`images/test/${f}.jpg`));
const same = (r: Reply) => ({ ids: Array.from(r.ids), text: r.text, finishReason: r.finishReason, steps: r.steps });

// Twelve calls: pair prompts of two frames and text prompts, one to three requests each, greedy or
// sampled with a seed, 2..9 tokens, 0..10 top logprobs.
type Call = { requests: object[]; options: object };
let calls: Call[];
let m: NativeModel;
let text: Int32Array;

beforeAll(async () => {
  const prompts = await Vlac.load(tinyA, { device: 'cpu', maxContext: 2048 });
  const task = 'Scoop the rice into the rice cooker.';
  const pair = prompts.renderPrompt('pair', { task, refNum: 0 }).ids;
  text = prompts.tokenizer.encode(`${task} How far along is the robot, and what should it do next? `.repeat(3));
  await prompts.dispose();
  const tiles = await Promise.all(frames.map(async (f) => (await preprocessImage(f)).uint8));
  const pairOf = (a: number, b: number) => ({ ids: pair, tiles: [tiles[a]!, tiles[b]!] });
  calls = [];
  for (let i = 0; i < 12; i++) {
    const requests = i % 3 === 2 ? [{ ids: Int32Array.from(text.slice(0, 20 + i)) }] :
      Array.from({ length: 1 + (i % 3) }, (_, r) => pairOf((i + r) % 4, (i + r + 1) % 4));
    const options = { maxTokens: 2 + (i % 8), stop: new Int32Array(0), logprobs: i % 11,
      ...(i % 4 === 1 ? { temperature: 0.8, topK: 40, topP: 0.95, seed: 100 + i } : {}) };
    calls.push({ requests, options });
  }
  m = new addon.NativeModel(64);
  await m.load(tinyA, { maxContext: 2048, weights: 'bf16', frameCacheBytes: 64 << 20, prefixCacheBytes: 64 << 20 });
});
afterAll(async () => {
  await m?.dispose();
});

describe('the call scheduler', () => {
  it('concurrent calls are prepared and decoded together, and each gets the replies it gets alone', async () => {
    const alone: ReturnType<typeof same>[][] = [];
    for (const c of calls) {
      const out = await m.generateBatch(c.requests, c.options);
      expect(out.batch.preparedWith).toBe(1);
      alone.push(out.replies.map(same));
    }
    // A sequence's long generate holds the inference thread (a job of its own, not batched) while the
    // twelve calls are posted: they all wait, then are prepared in batches and decode together.
    const blocker = m.createSequence();
    await blocker.prefill(Int32Array.from(text.slice(0, 20)));
    const busy = blocker.generate({ maxTokens: 600, stop: new Int32Array(0) });
    const together = await Promise.all(calls.map((c) => m.generateBatch(c.requests, c.options)));
    await busy;
    expect(together.map((o) => o.replies.map(same))).toEqual(alone);
    expect(Math.max(...together.map((o) => o.batch.preparedWith))).toBeGreaterThan(1);
    expect(Math.max(...together.map((o) => o.batch.peakDecoding))).toBeGreaterThan(4);
  });

  it('a call arriving while a long one decodes joins it and ends first', async () => {
    // ~1,000 decode steps: still decoding when the short call comes, however fast the machine
    const long = m.generateBatch(calls[0]!.requests, { maxTokens: 1000, stop: new Int32Array(0) });
    await new Promise((r) => setTimeout(r, 50));
    const order: string[] = [];
    const [l, s] = await Promise.all([
      long.then((o) => { order.push('long'); return o; }),
      m.generateBatch(calls[1]!.requests, calls[1]!.options).then((o) => { order.push('short'); return o; }),
    ]);
    expect(order).toEqual(['short', 'long']);
    expect(s.batch.peakDecoding).toBeGreaterThan(calls[1]!.requests.length);
    expect(l.batch.peakDecoding).toBeGreaterThan(calls[0]!.requests.length);
    expect(l.replies[0]!.ids).toHaveLength(1000);
    const again = await m.generateBatch(calls[1]!.requests, calls[1]!.options);
    expect(s.replies.map(same)).toEqual(again.replies.map(same));
  });

  it('calls cancelled before and while they decode with others end, and the others reply as alone', async () => {
    const alone = [];
    for (const c of calls.slice(0, 4)) alone.push((await m.generateBatch(c.requests, c.options)).replies.map(same));
    const early = new addon.CancelToken(), late = new addon.CancelToken();
    const long = m.generateBatch(calls[0]!.requests, { maxTokens: 1300, stop: new Int32Array(0) }, late);
    const dropped = m.generateBatch(calls[3]!.requests, calls[3]!.options, early)
      .then(() => 'replied', (e: { code?: string }) => e.code);
    early.cancel();  // before the thread reaches it: dropped from its batch after the image encoding
    const others = calls.slice(0, 4).map((c) => m.generateBatch(c.requests, c.options));
    void others[0]!.then(() => late.cancel());  // while the long call still decodes beside the others
    const out = await Promise.all(others);
    expect(out.map((o) => o.replies.map(same))).toEqual(alone);
    expect(await dropped).toBe('ERR_VLAC_ABORTED');
    const cancelled = await long;
    expect(cancelled.replies[0]!.finishReason).toBe('aborted');
    expect(cancelled.replies[0]!.ids.length).toBeLessThan(1300);
    expect(cancelled.batch.peakDecoding).toBeGreaterThan(1);
  });
});

describe('the call scheduler at dispose', () => {
  it('calls decoding together and calls queued behind them reject with ERR_VLAC_DISPOSED, and dispose resolves', async () => {
    const n = new addon.NativeModel(64);
    await n.load(tinyA, { maxContext: 2048, weights: 'bf16' });
    const outcome = (p: Promise<Out>) => p.then(() => 'replied', (e: { code?: string }) => e.code);
    const decoding = calls.slice(0, 6).map((c) => outcome(n.generateBatch(c.requests, { maxTokens: 1300, stop: new Int32Array(0) })));
    await new Promise((r) => setTimeout(r, 200));  // the first calls are decoding by now
    const queued = outcome(n.generateBatch(calls[0]!.requests, calls[0]!.options));
    await n.dispose();
    expect(await Promise.all(decoding)).toEqual(Array(6).fill('ERR_VLAC_DISPOSED'));
    expect(await queued).toBe('ERR_VLAC_DISPOSED');
  });
});
