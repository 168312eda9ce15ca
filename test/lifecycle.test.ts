// Lifecycle (issue 19, api.md §1 and §4): dispose with calls in flight, double dispose, use after
// dispose, abort at every stage of a call, timeouts, a full queue, several models in one process,
// `await using`. Nothing may crash, and the engine must stay usable after every abort.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { Vlac, VlacError, type Sequence } from '../src/index.js';
import { fixture, tinyA } from './support/fixtures.js';

const A = fixture('preprocess/inputs/rgb-640x480.png');
const B = fixture('preprocess/inputs/rgb-448x448.png');
const TASK = 'put the cup on the plate';
const PAIR = { task: TASK, first: A, second: B, maxTokens: 3 };

async function failure(p: unknown | (() => unknown)): Promise<VlacError> {
  try {
    await (typeof p === 'function' ? (p as () => unknown)() : p);
  } catch (err) {
    return err as VlacError;
  }
  throw new Error('expected a rejection, got a result');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A sharp-like image that runs `onDecode` when its decoding starts (the preprocess stage: the
// decoder opens a sharp input through clone()).
function hookedImage(path: string, onDecode: () => void): sharp.Sharp {
  const real = sharp(path);
  return {
    clone: () => { onDecode(); return real.clone(); },
    metadata: () => real.metadata(),
    toBuffer: () => real.toBuffer(),
  } as unknown as sharp.Sharp;
}

// 448x448 raw RGB frames: decoding them is a copy, so a call's time is the engine's (ViT, prefill, decode).
async function rawFrame(path: string) {
  const { data } = await sharp(path).resize(448, 448).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: 448, height: 448, channels: 3 as const };
}

// One heavy batched call: 10 pairs with a 6-frame reference = 90 tiles through the ViT, 10 prompts
// of ~2,400 tokens prefilled, 10 x 60 tokens decoded (each stage 100-300 ms on the 2-core machine).
let HEAVY: { task: string; frames: object[]; reference: object[]; refNum: number; skip: number; batchSize: number; maxTokens: number };

let vlac: Vlac;
let greedy: number[]; // the reference reply of PAIR
beforeAll(async () => {
  vlac = await Vlac.load(tinyA, { device: 'cpu' });
  greedy = Array.from((await vlac.pairCritic(PAIR)).ids);
  const [ra, rb] = [await rawFrame(A), await rawFrame(fixture('preprocess/inputs/rgb-1920x1080.jpg'))];
  const frames = Array.from({ length: 11 }, (_, i) => (i % 2 ? ra : rb));
  HEAVY = { task: TASK, frames, reference: frames.slice(0, 6), refNum: 6, skip: 1, batchSize: 10, maxTokens: 60 };
});
afterAll(async () => {
  await vlac?.dispose();
});

async function stillCorrect(v: Vlac = vlac): Promise<void> {
  expect(Array.from((await v.pairCritic(PAIR)).ids)).toEqual(greedy);
}

describe('dispose', () => {
  it('rejects a long trajectoryCritic in flight with ERR_VLAC_DISPOSED, and every later call too', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu' });
    let progress = 0;
    const frames = Array.from({ length: 41 }, (_, i) => (i % 2 ? A : B));
    const t0 = performance.now();
    const running = v.trajectoryCritic({
      task: TASK, frames, skip: 1, batchSize: 4, maxTokens: 3, onProgress: (d) => { progress = d; },
    });
    running.catch(() => undefined);
    while (progress === 0) await sleep(5); // one batch is done: the next is in the engine
    await v.dispose();
    const err = await failure(running);
    expect(err).toBeInstanceOf(VlacError);
    expect(err.code).toBe('ERR_VLAC_DISPOSED');
    expect(progress).toBeLessThan(40);
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect((await failure(() => v.pairCritic(PAIR))).code).toBe('ERR_VLAC_DISPOSED');
  });

  it('rejects a call whose ViT pass is running, and the calls queued behind it', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu' });
    const calls = [
      v.trajectoryCritic(HEAVY as never),
      v.pairCritic(PAIR),
      v.done({ task: TASK, image: A, maxTokens: 3 }),
    ];
    calls.forEach((c) => c.catch(() => undefined));
    await sleep(60);
    await v.dispose();
    for (const c of calls) expect((await failure(c)).code).toBe('ERR_VLAC_DISPOSED');
  });

  it('rejects a sequence generate in flight with ERR_VLAC_DISPOSED', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu' });
    const seq = v.createSequence();
    await seq.prefill({ ids: v.tokenizer.encode('count to a thousand:', { bos: true }) });
    const running = seq.generate({ maxTokens: 3000 });
    running.catch(() => undefined);
    await sleep(100);
    const t0 = performance.now();
    await v.dispose();
    expect(performance.now() - t0).toBeLessThan(2_000); // the decode stops at its next step
    expect((await failure(running)).code).toBe('ERR_VLAC_DISPOSED');
  });

  it('a second dispose is a no-op, concurrent disposes share one', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu' });
    const [a, b] = [v.dispose(), v.dispose()];
    await expect(a).resolves.toBeUndefined();
    await expect(b).resolves.toBeUndefined();
    await expect(v.dispose()).resolves.toBeUndefined();
  });

  it('every method rejects with ERR_VLAC_DISPOSED after dispose', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu' });
    const seq = v.createSequence();
    await seq.prefill({ ids: v.tokenizer.encode('hi', { bos: true }) });
    const stream = v.criticStream({ task: TASK, maxTokens: 3 });
    await v.dispose();
    const calls: [string, () => unknown][] = [
      ['preprocess', () => v.preprocess(A)],
      ['encodeImages', () => v.encodeImages([A])],
      ['createSequence', () => v.createSequence()],
      ['sequence.prefill', () => seq.prefill({ ids: [1, 2] })],
      ['sequence.generate', () => seq.generate({ maxTokens: 2 })],
      ['sequence.fork', () => seq.fork()],
      ['pairCritic', () => v.pairCritic(PAIR)],
      ['done', () => v.done({ task: TASK, image: A, maxTokens: 3 })],
      ['trajectoryCritic', () => v.trajectoryCritic({ task: TASK, frames: [A, B], skip: 1, maxTokens: 3 })],
      ['trajectoryDone', () => v.trajectoryDone({ task: TASK, frames: [A, B], maxTokens: 3 })],
      ['action', () => v.action({ task: TASK, images: [A], maxTokens: 3 })],
      ['actionScore', () => v.actionScore({ task: TASK, image: A, state: [1, 2, 3, 4, 5, 6, 1], action: [1, 2, 3, 4, 5, 6, 0], maxTokens: 3 })],
      ['actionInverse', () => v.actionInverse({ first: A, second: B, maxTokens: 3 })],
      ['describe', () => v.describe({ first: A, last: B, maxTokens: 3 })],
      ['generate', () => v.generate({ prompt: 'hi', maxTokens: 3 })],
      ['criticStream (new)', () => v.criticStream({ task: TASK, maxTokens: 3 }).push(A)],
      ['criticStream (open before dispose)', () => stream.push(A)],
    ];
    for (const [name, call] of calls) {
      const err = await failure(call);
      expect(err, name).toBeInstanceOf(VlacError);
      expect(err.code, name).toBe('ERR_VLAC_DISPOSED');
    }
    seq.dispose(); // disposing a sequence of a disposed model is harmless
    seq.dispose();
    // What needs no engine keeps working: the tokenizer holds its own copy, and the pure helpers.
    expect(v.tokenizer.decode(v.tokenizer.encode('hi'))).toBe('hi');
    expect(v.voc([1, 2, 3])).toBeCloseTo(1, 12);
  });

  it('a disposed sequence rejects with ERR_VLAC_DISPOSED while the model goes on', async () => {
    const seq = vlac.createSequence();
    await seq.prefill({ ids: vlac.tokenizer.encode('hi', { bos: true }) });
    const child = seq.fork();
    seq.dispose();
    expect((await failure(() => seq.generate({ maxTokens: 2 }))).code).toBe('ERR_VLAC_DISPOSED');
    expect((await failure(() => seq.prefill({ ids: [5] }))).code).toBe('ERR_VLAC_DISPOSED');
    expect((await child.generate({ maxTokens: 2 })).ids).toHaveLength(2); // the fork owns its prefix
    child.dispose();
    await stillCorrect();
  });
});

describe('abort', () => {
  // The stage times of HEAVY, measured here so that the aborts below land inside the intended stage
  // (best effort on a loaded machine: whichever stage an abort lands in, the outcome is the same).
  let stages: { decodeImagesMs: number; encodeMs: number; prefillMs: number; decodeMs: number };
  beforeAll(async () => {
    await vlac.trajectoryCritic(HEAVY as never); // the first run is the slowest (cold caches)
    stages = (await vlac.trajectoryCritic(HEAVY as never)).timing;
  });

  it('before the start: ERR_VLAC_ABORTED, nothing run', async () => {
    const signal = AbortSignal.abort();
    let decoded = false;
    const img = hookedImage(A, () => { decoded = true; });
    expect((await failure(() => vlac.pairCritic({ ...PAIR, first: img, signal }))).code).toBe('ERR_VLAC_ABORTED');
    expect(decoded).toBe(false);
    const seq = vlac.createSequence();
    await seq.prefill({ ids: vlac.tokenizer.encode('hi', { bos: true }) });
    expect((await failure(() => seq.generate({ maxTokens: 3, signal }))).code).toBe('ERR_VLAC_ABORTED');
    expect(seq.length).toBe(vlac.tokenizer.encode('hi', { bos: true }).length);
    seq.dispose();
  });

  it('during preprocess (image decoding): ERR_VLAC_ABORTED', async () => {
    const ac = new AbortController();
    const img = hookedImage(B, () => ac.abort());
    const err = await failure(() => vlac.pairCritic({ ...PAIR, second: img, signal: ac.signal }));
    expect(err.code).toBe('ERR_VLAC_ABORTED');
    await stillCorrect();
  });

  // Aborts timed from the call's start into one stage; whichever step sees it first, the call
  // rejects with ERR_VLAC_ABORTED and the next call gives the same results as before.
  for (const stage of ['ViT', 'prefill', 'decode'] as const) {
    it(`during the ${stage}: ERR_VLAC_ABORTED, and the engine gives the same results after`, async () => {
      const s = stages;
      const at = stage === 'ViT' ? s.decodeImagesMs + s.encodeMs / 2
        : stage === 'prefill' ? s.decodeImagesMs + s.encodeMs + s.prefillMs / 2
          : s.decodeImagesMs + s.encodeMs + s.prefillMs + s.decodeMs / 4;
      const ac = new AbortController();
      const t0 = performance.now();
      const running = vlac.trajectoryCritic({ ...HEAVY, signal: ac.signal } as never);
      running.catch(() => undefined);
      setTimeout(() => ac.abort(), at);
      const err = await failure(running);
      expect(err.code).toBe('ERR_VLAC_ABORTED');
      expect(performance.now() - t0).toBeLessThan(s.decodeImagesMs + s.encodeMs + s.prefillMs + s.decodeMs + 10_000);
      await stillCorrect();
    });
  }

  it('a long decode stops within a few steps of the abort', async () => {
    const ac = new AbortController();
    const running = vlac.pairCritic({ ...PAIR, maxTokens: 3000, signal: ac.signal });
    running.catch(() => undefined);
    await sleep(200); // 3,000 tokens take seconds
    const t0 = performance.now();
    ac.abort();
    expect((await failure(running)).code).toBe('ERR_VLAC_ABORTED');
    expect(performance.now() - t0).toBeLessThan(500);
    await stillCorrect();
  });

  it("sequence generate: finishReason 'aborted' with the tokens made so far; the sequence goes on", async () => {
    const seq = vlac.createSequence();
    const prompt = vlac.tokenizer.encode('count to a thousand:', { bos: true });
    await seq.prefill({ ids: prompt });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const out = await seq.generate({ maxTokens: 3000, signal: ac.signal });
    expect(out.finishReason).toBe('aborted');
    expect(out.ids.length).toBeGreaterThan(0);
    expect(out.ids.length).toBeLessThan(3000);
    expect(seq.length).toBe(prompt.length + out.ids.length);
    // the same prompt, decoded without abort, starts with the same tokens
    const fresh = vlac.createSequence();
    await fresh.prefill({ ids: prompt });
    const full = await fresh.generate({ maxTokens: out.ids.length });
    expect(Array.from(full.ids)).toEqual(Array.from(out.ids));
    const more = await seq.generate({ maxTokens: 2 });
    expect(more.ids).toHaveLength(2);
    expect(seq.length).toBe(prompt.length + out.ids.length + 2);
    seq.dispose();
    fresh.dispose();
  });
});

describe('timeouts', () => {
  it('pairCritic with timeoutMs: ERR_VLAC_TIMEOUT', async () => {
    const t0 = performance.now();
    const err = await failure(() => vlac.pairCritic({ ...PAIR, maxTokens: 3000, timeoutMs: 200 }));
    expect(err.code).toBe('ERR_VLAC_TIMEOUT');
    expect(performance.now() - t0).toBeLessThan(1_000);
    await stillCorrect();
  });

  it('a timeout inside the ViT pass is ERR_VLAC_TIMEOUT too', async () => {
    const err = await failure(() => vlac.trajectoryCritic({ ...HEAVY, timeoutMs: 60 } as never));
    expect(err.code).toBe('ERR_VLAC_TIMEOUT');
  });

  it('trajectoryCritic whose deadline passes between batches: ERR_VLAC_TIMEOUT', async () => {
    const frames = Array.from({ length: 41 }, (_, i) => (i % 2 ? A : B));
    const err = await failure(() => vlac.trajectoryCritic({ task: TASK, frames, skip: 1, batchSize: 1, maxTokens: 3, timeoutMs: 100 }));
    expect(err.code).toBe('ERR_VLAC_TIMEOUT');
    await stillCorrect();
  });

  it('sequence generate with timeoutMs: ERR_VLAC_TIMEOUT, and the sequence goes on', async () => {
    const seq = vlac.createSequence();
    await seq.prefill({ ids: vlac.tokenizer.encode('count:', { bos: true }) });
    expect((await failure(() => seq.generate({ maxTokens: 3000, timeoutMs: 100 }))).code).toBe('ERR_VLAC_TIMEOUT');
    expect((await seq.generate({ maxTokens: 2 })).ids).toHaveLength(2);
    seq.dispose();
  });
});

describe('queue and several models', () => {
  it('a full queue rejects with ERR_VLAC_BUSY naming maxQueue, and the queued calls still finish', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu', maxQueue: 2 });
    const seqs: Sequence[] = [];
    for (let i = 0; i < 2; i++) {
      const s = v.createSequence();
      seqs.push(s);
    }
    await Promise.all(seqs.map((s) => s.prefill({ ids: v.tokenizer.encode('hi', { bos: true }) })));
    const calls = Array.from({ length: 6 }, (_, i) => seqs[i % 2]!.generate({ maxTokens: 8 }));
    const settled = await Promise.allSettled(calls);
    const busy = settled.filter((s) => s.status === 'rejected');
    expect(busy.length).toBeGreaterThan(0);
    for (const b of busy) {
      expect((b as PromiseRejectedResult).reason.code).toBe('ERR_VLAC_BUSY');
      expect((b as PromiseRejectedResult).reason.message).toMatch(/maxQueue 2/);
    }
    expect(settled.some((s) => s.status === 'fulfilled')).toBe(true);
    await v.dispose();
  });

  it('creating, forking and disposing sequences never fail on a full queue (nobody awaits them)', async () => {
    const v = await Vlac.load(tinyA, { device: 'cpu', maxQueue: 1 });
    const seqs = [v.createSequence(), v.createSequence(), v.createSequence()];
    const forks = seqs.map((s) => s.fork());
    for (const s of [...seqs, ...forks]) {
      await s.prefill({ ids: [1, 2, 3] });
      expect(s.length).toBe(3);
      s.dispose();
    }
    await v.dispose();
  });

  it('three models used concurrently each give the single-model results; disposing one leaves the others', async () => {
    const models = await Promise.all([0, 1, 2].map(() => Vlac.load(tinyA, { device: 'cpu', threads: 1 })));
    try {
      const rounds = await Promise.all(models.map(async (m) => {
        const out: number[][] = [];
        for (let i = 0; i < 2; i++) out.push(Array.from((await m.pairCritic(PAIR)).ids));
        return out;
      }));
      for (const r of rounds) for (const ids of r) expect(ids).toEqual(greedy);
      const running = [models[1]!.pairCritic(PAIR), models[2]!.pairCritic(PAIR)];
      await models[0]!.dispose();
      for (const r of await Promise.all(running)) expect(Array.from(r.ids)).toEqual(greedy);
      expect((await failure(() => models[0]!.pairCritic(PAIR))).code).toBe('ERR_VLAC_DISPOSED');
    } finally {
      await Promise.all(models.map((m) => m.dispose()));
    }
    await stillCorrect();
  });

  it('await using disposes the model at the end of the scope', async () => {
    let escaped: Vlac;
    {
      await using v = await Vlac.load(tinyA, { device: 'cpu' });
      escaped = v;
      expect(Array.from((await v.pairCritic(PAIR)).ids)).toEqual(greedy);
    }
    expect((await failure(() => escaped.pairCritic(PAIR))).code).toBe('ERR_VLAC_DISPOSED');
  });
});
