// Bad input never crashes or lies (issue 19): a table of bad inputs across the whole public API of a
// loaded model (load options, preprocess, encodeImages, sequences, every task method, the tokenizer,
// image inputs), each rejected with its exact api.md §7 code and a message naming the argument or
// input; and prompts longer than maxContext rejected with ERR_VLAC_CONTEXT_FULL before any work.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import { Vlac, VlacError, type VlacErrorCode } from '../src/index.js';
import { fixture, tinyA } from './support/fixtures.js';

const IMG = fixture('preprocess/inputs/rgb-640x480.png');
const png = readFileSync(IMG);
const jpeg = readFileSync(fixture('preprocess/inputs/rgb-1920x1080.jpg'));
const webp = readFileSync(fixture('preprocess/inputs/rgb-500x400.webp'));

// Corrupt bytes: a valid signature and header, then the compressed data scrambled.
function scrambled(bytes: Buffer, from: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = from; i < out.length - 16; i++) out[i] = (out[i]! ^ (i * 131)) & 255;
  return out;
}
const pdf = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');
const text = Buffer.from('frame_000.png is not here; this is a text file\n'.repeat(20));

let vlac: Vlac;
beforeAll(async () => {
  vlac = await Vlac.load(tinyA, { device: 'cpu' });
});
afterAll(async () => {
  await vlac?.dispose();
});

async function failure(fn: () => unknown): Promise<VlacError> {
  try {
    await fn();
  } catch (err) {
    return err as VlacError;
  }
  throw new Error('expected a rejection, got a result');
}

type Case = [name: string, call: () => unknown, code: VlacErrorCode, names: RegExp];
const pair = { task: 'put the cup on the plate', first: IMG, second: IMG, maxTokens: 3 };
const frames = [IMG, IMG, IMG];
const state7 = [1, 2, 3, 4, 5, 6, 1];

const cases: Case[] = [
  // ---- Vlac.load options (api.md §1) ----
  ['load: empty model folder', () => Vlac.load(''), 'ERR_VLAC_BAD_ARGUMENT', /modelDir/],
  ['load: model folder not a string', () => Vlac.load(42 as never), 'ERR_VLAC_BAD_ARGUMENT', /modelDir/],
  ['load: options not an object', () => Vlac.load(tinyA, 'cpu' as never), 'ERR_VLAC_BAD_ARGUMENT', /options/],
  ['load: unknown device', () => Vlac.load(tinyA, { device: 'gpu' as never }), 'ERR_VLAC_BAD_ARGUMENT', /device/],
  ['load: unknown weights', () => Vlac.load(tinyA, { weights: 'fp8' as never }), 'ERR_VLAC_BAD_ARGUMENT', /weights/],
  ['load: threads 1.5', () => Vlac.load(tinyA, { threads: 1.5 }), 'ERR_VLAC_BAD_ARGUMENT', /threads/],
  ['load: maxContext 0', () => Vlac.load(tinyA, { maxContext: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /maxContext/],
  ['load: maxBatch 0', () => Vlac.load(tinyA, { maxBatch: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /maxBatch/],
  ['load: maxQueue NaN', () => Vlac.load(tinyA, { maxQueue: NaN }), 'ERR_VLAC_BAD_ARGUMENT', /maxQueue/],
  ['load: cache not an object', () => Vlac.load(tinyA, { cache: 5 as never }), 'ERR_VLAC_BAD_ARGUMENT', /cache/],
  ['load: missing folder', () => Vlac.load('/nonexistent/VLAC'), 'ERR_VLAC_NOT_FOUND', /\/nonexistent\/VLAC/],
  ['load: cuda on a CPU build', () => Vlac.load(tinyA, { device: 'cuda' }), 'ERR_VLAC_CUDA_UNAVAILABLE', /cuda/],

  // ---- preprocess / encodeImages (api.md §2) ----
  ['preprocess: unknown resize', () => vlac.preprocess(IMG, { resize: 'bilinear' as never }), 'ERR_VLAC_BAD_ARGUMENT', /resize/],
  ['preprocess: maxTiles 0', () => vlac.preprocess(IMG, { resize: 'internvl', maxTiles: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /maxTiles/],
  ['preprocess: options null', () => vlac.preprocess(IMG, null as never), 'ERR_VLAC_BAD_ARGUMENT', /options/],
  ['encodeImages: empty list', () => vlac.encodeImages([]), 'ERR_VLAC_BAD_ARGUMENT', /images/],
  ['encodeImages: not a list', () => vlac.encodeImages(IMG as never), 'ERR_VLAC_BAD_ARGUMENT', /images/],

  // ---- image inputs: ERR_VLAC_BAD_IMAGE naming which input ----
  ['image: missing path', () => vlac.preprocess('/nonexistent/frame_000.png'), 'ERR_VLAC_BAD_IMAGE', /image 0 \(\/nonexistent\/frame_000\.png\)/],
  ['image: a folder', () => vlac.preprocess(tinyA), 'ERR_VLAC_BAD_IMAGE', /image 0 .*tiny-a/],
  ['image: empty bytes', () => vlac.preprocess(new Uint8Array(0)), 'ERR_VLAC_BAD_IMAGE', /image 0: .*empty/],
  ['image: truncated PNG (half)', () => vlac.preprocess(png.subarray(0, png.length >> 1)), 'ERR_VLAC_BAD_IMAGE', /image 0/],
  ['image: truncated PNG (header only)', () => vlac.preprocess(png.subarray(0, 40)), 'ERR_VLAC_BAD_IMAGE', /image 0/],
  ['image: truncated JPEG (half)', () => vlac.preprocess(jpeg.subarray(0, jpeg.length >> 1)), 'ERR_VLAC_BAD_IMAGE', /image 0/],
  ['image: truncated WebP', () => vlac.preprocess(webp.subarray(0, webp.length >> 1)), 'ERR_VLAC_BAD_IMAGE', /image 0/],
  ['image: corrupt PNG data', () => vlac.preprocess(scrambled(png, 100)), 'ERR_VLAC_BAD_IMAGE', /image 0/],
  ['image: corrupt JPEG data', () => vlac.preprocess(scrambled(jpeg, 1000)), 'ERR_VLAC_BAD_IMAGE', /image 0/],
  ['image: a text file as bytes', () => vlac.preprocess(text), 'ERR_VLAC_BAD_IMAGE', /image 0: .*unsupported/],
  ['image: a text file as a path', () => vlac.preprocess(fixture('README.md')), 'ERR_VLAC_BAD_IMAGE', /image 0 .*README\.md.*unsupported/],
  ['image: PDF bytes', () => vlac.preprocess(pdf), 'ERR_VLAC_BAD_IMAGE', /image 0: .*unsupported/],
  ['image: raw 0 width', () => vlac.preprocess({ data: new Uint8Array(0), width: 0, height: 10, channels: 3 }), 'ERR_VLAC_BAD_IMAGE', /image 0: .*0x10/],
  ['image: raw 0 height', () => vlac.preprocess({ data: new Uint8Array(0), width: 10, height: 0, channels: 3 }), 'ERR_VLAC_BAD_IMAGE', /image 0: .*10x0/],
  ['image: raw data too short', () => vlac.preprocess({ data: new Uint8Array(10), width: 2, height: 2, channels: 3 }), 'ERR_VLAC_BAD_IMAGE', /image 0: 2x2x3 pixels need 12 bytes, got 10/],
  ['image: raw data of 4 channels said to be 3', () => vlac.preprocess({ data: new Uint8Array(16), width: 2, height: 2, channels: 3 }), 'ERR_VLAC_BAD_IMAGE', /image 0: .*need 12 bytes, got 16/],
  ['image: raw channels 5', () => vlac.preprocess({ data: new Uint8Array(20), width: 2, height: 2, channels: 5 as never }), 'ERR_VLAC_BAD_IMAGE', /image 0: .*channels/],
  ['image: raw width 2.5', () => vlac.preprocess({ data: new Uint8Array(15), width: 2.5, height: 2, channels: 3 }), 'ERR_VLAC_BAD_IMAGE', /image 0: .*width/],
  ['image: raw data not bytes', () => vlac.preprocess({ data: [1, 2, 3] as never, width: 1, height: 1, channels: 3 }), 'ERR_VLAC_BAD_IMAGE', /image 0: .*data/],
  ['image: a number', () => vlac.preprocess(42 as never), 'ERR_VLAC_BAD_IMAGE', /image 0/],
  ['encodeImages: the second input truncated', () => vlac.encodeImages([IMG, png.subarray(0, 100)]), 'ERR_VLAC_BAD_IMAGE', /image 1/],
  ['pairCritic: second image missing', () => vlac.pairCritic({ ...pair, second: '/nonexistent/b.png' }), 'ERR_VLAC_BAD_IMAGE', /image 1 \(\/nonexistent\/b\.png\)/],

  // ---- sequences (api.md §4) ----
  ['prefill: input not an object', () => vlac.createSequence().prefill(null as never), 'ERR_VLAC_BAD_ARGUMENT', /prefill input/],
  ['prefill: ids a string', () => vlac.createSequence().prefill({ ids: 'hello' as never }), 'ERR_VLAC_BAD_ARGUMENT', /ids/],
  ['prefill: ids with a negative entry', () => vlac.createSequence().prefill({ ids: [1, -1] }), 'ERR_VLAC_BAD_ARGUMENT', /ids\[1\]/],
  ['prefill: ids with a fraction', () => vlac.createSequence().prefill({ ids: [1, 2.5] }), 'ERR_VLAC_BAD_ARGUMENT', /ids\[1\]/],
  ['prefill: id out of vocabulary', () => vlac.createSequence().prefill({ ids: [1, 92553] }), 'ERR_VLAC_BAD_ARGUMENT', /token id 92553 at index 1 is outside the vocabulary/],
  ['prefill: negative id in an Int32Array', () => vlac.createSequence().prefill({ ids: Int32Array.from([1, -3]) }), 'ERR_VLAC_BAD_ARGUMENT', /token id -3 at index 1/],
  ['prefill: image rows fewer than <IMG_CONTEXT> ids', async () => {
    const ids = [1, ...new Array<number>(512).fill(vlac.tokenizer.special.imgContext)];
    await vlac.createSequence().prefill({ ids, images: [IMG] });
  }, 'ERR_VLAC_BAD_ARGUMENT', /512 <IMG_CONTEXT> tokens but 256 image embedding rows/],
  ['prefill: <IMG_CONTEXT> ids without images', () => vlac.createSequence().prefill({ ids: [1, ...new Array<number>(256).fill(vlac.tokenizer.special.imgContext)] }), 'ERR_VLAC_BAD_ARGUMENT', /256 <IMG_CONTEXT> tokens but 0 image embedding rows/],
  ['prefill: images not a list', () => vlac.createSequence().prefill({ ids: [1], images: IMG as never }), 'ERR_VLAC_BAD_ARGUMENT', /images/],
  ...([
    ['maxTokens 0', { maxTokens: 0 }, /maxTokens/],
    ['temperature -1', { temperature: -1 }, /temperature/],
    ['temperature NaN', { temperature: NaN }, /temperature/],
    ['topP 0', { topP: 0 }, /topP/],
    ['topP 1.5', { topP: 1.5 }, /topP/],
    ['topK a string', { topK: '5' }, /topK/],
    ['logprobs 21', { logprobs: 21 }, /logprobs/],
    ['seed -1', { seed: -1 }, /seed/],
    ['stop not a list', { stop: '<|im_end|>' }, /stop/],
    ['stop text of two tokens', { stop: ['hello world'] }, /stop\[0\]/],
    ['stop id out of vocabulary', { stop: [1, 92553] }, /stop\[1\]/],
    ['signal not an AbortSignal', { signal: {} }, /signal/],
    ['timeoutMs 0', { timeoutMs: 0 }, /timeoutMs/],
    ['timeoutMs Infinity', { timeoutMs: Infinity }, /timeoutMs/],
  ] as const).map(([name, opts, re]): Case => [
    `generate: ${name}`, async () => {
      const seq = vlac.createSequence();
      await seq.prefill({ ids: vlac.tokenizer.encode('hi', { bos: true }) });
      await seq.generate(opts as never);
    }, 'ERR_VLAC_BAD_ARGUMENT', re,
  ]),
  ['generate: options not an object', () => vlac.createSequence().generate(3 as never), 'ERR_VLAC_BAD_ARGUMENT', /generate options/],
  ['generate: on an empty sequence', () => vlac.createSequence().generate({ maxTokens: 2 }), 'ERR_VLAC_BAD_ARGUMENT', /empty sequence/],

  // ---- task methods (api.md §5, §6) ----
  ['pairCritic: options missing', () => vlac.pairCritic(undefined as never), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: options/],
  ['pairCritic: empty task', () => vlac.pairCritic({ ...pair, task: '' }), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: task/],
  ['pairCritic: task not a string', () => vlac.pairCritic({ ...pair, task: ['pick'] as never }), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: task/],
  ['pairCritic: refNum -1', () => vlac.pairCritic({ ...pair, refNum: -1 }), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: refNum/],
  ['pairCritic: first a number', () => vlac.pairCritic({ ...pair, first: 7 as never }), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: first/],
  ['pairCritic: reference entry null', () => vlac.pairCritic({ ...pair, reference: [IMG, null as never] }), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: reference\[1\]/],
  ['pairCritic: rich a string', () => vlac.pairCritic({ ...pair, rich: 'true' as never }), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: rich/],
  ['pairCritic: maxTokens 0', () => vlac.pairCritic({ ...pair, maxTokens: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: maxTokens/],
  ['pairCritic: timeoutMs NaN', () => vlac.pairCritic({ ...pair, timeoutMs: NaN }), 'ERR_VLAC_BAD_ARGUMENT', /pairCritic: timeoutMs/],
  ['done: threshold NaN', () => vlac.done({ task: 't', image: IMG, threshold: NaN }), 'ERR_VLAC_BAD_ARGUMENT', /done: threshold/],
  ['done: image null', () => vlac.done({ task: 't', image: null as never }), 'ERR_VLAC_BAD_ARGUMENT', /done: image/],
  ['done: goal and reference together', () => vlac.done({ task: 't', image: IMG, goal: IMG, reference: frames }), 'ERR_VLAC_BAD_ARGUMENT', /done: give either goal .* or reference/],
  ['done: in-context without previous', () => vlac.done({ task: 't', image: IMG, reference: frames, first: IMG }), 'ERR_VLAC_BAD_ARGUMENT', /done: .*previous/],
  ['trajectoryCritic: batchSize 0', () => vlac.trajectoryCritic({ task: 't', frames, batchSize: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: batchSize/],
  ['trajectoryCritic: skip 0', () => vlac.trajectoryCritic({ task: 't', frames, skip: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: skip/],
  ['trajectoryCritic: frames empty (too short)', () => vlac.trajectoryCritic({ task: 't', frames: [] }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: frames must hold at least 1/],
  ['trajectoryCritic: frames of a wrong element type', () => vlac.trajectoryCritic({ task: 't', frames: [IMG, 5 as never] }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: frames\[1\]/],
  ['trajectoryCritic: unknown valueMode', () => vlac.trajectoryCritic({ task: 't', frames, valueMode: 'median' as never }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: valueMode/],
  ['trajectoryCritic: additionScale 0', () => vlac.trajectoryCritic({ task: 't', frames, additionScale: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: additionScale/],
  ['trajectoryCritic: done.threshold a string', () => vlac.trajectoryCritic({ task: 't', frames, done: { threshold: '0.5' as never } }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: done\.threshold/],
  ['trajectoryCritic: video path a number', () => vlac.trajectoryCritic({ task: 't', frames: { video: 5 as never } }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: frames\.video/],
  ['trajectoryCritic: onProgress not a function', () => vlac.trajectoryCritic({ task: 't', frames, onProgress: 1 as never }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryCritic: onProgress/],
  ['trajectoryDone: batchSize 0', () => vlac.trajectoryDone({ task: 't', frames, batchSize: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryDone: batchSize/],
  ['trajectoryDone: threshold NaN', () => vlac.trajectoryDone({ task: 't', frames, threshold: NaN }), 'ERR_VLAC_BAD_ARGUMENT', /trajectoryDone: threshold/],
  ['action: no views', () => vlac.action({ task: 't', images: [] }), 'ERR_VLAC_BAD_ARGUMENT', /action: images/],
  ['action: four views', () => vlac.action({ task: 't', images: [IMG, IMG, IMG, IMG] }), 'ERR_VLAC_BAD_ARGUMENT', /action: images/],
  ['action: state of 3 numbers', () => vlac.action({ task: 't', images: [IMG], state: [1, 2, 3] }), 'ERR_VLAC_BAD_ARGUMENT', /action: state/],
  ['actionScore: action with NaN', () => vlac.actionScore({ task: 't', image: IMG, state: state7, action: [NaN, 0, 0, 0, 0, 0, 0] }), 'ERR_VLAC_BAD_ARGUMENT', /actionScore: action\[0\]/],
  ['actionScore: state with a string', () => vlac.actionScore({ task: 't', image: IMG, state: [...state7.slice(0, 6), 'open' as never], action: state7 }), 'ERR_VLAC_BAD_ARGUMENT', /actionScore: state\[6\]/],
  ['actionInverse: second missing', () => vlac.actionInverse({ first: IMG } as never), 'ERR_VLAC_BAD_ARGUMENT', /actionInverse: second/],
  ['describe: first an object', () => vlac.describe({ first: {} as never, last: IMG }), 'ERR_VLAC_BAD_ARGUMENT', /describe: first/],
  ['generate (chat): prompt not a string', () => vlac.generate({ prompt: 5 as never }), 'ERR_VLAC_BAD_ARGUMENT', /generate: prompt/],
  ['generate (chat): topP 2', () => vlac.generate({ prompt: 'hi', topP: 2 }), 'ERR_VLAC_BAD_ARGUMENT', /generate: topP/],
  ['generate (chat): logprobs 21', () => vlac.generate({ prompt: 'hi', logprobs: 21 }), 'ERR_VLAC_BAD_ARGUMENT', /generate: logprobs/],
  ['criticStream: empty task', () => vlac.criticStream({ task: '' }), 'ERR_VLAC_BAD_ARGUMENT', /criticStream: task/],
  ['criticStream.push: frame a number', () => vlac.criticStream({ task: 't', maxTokens: 3 }).push(42 as never), 'ERR_VLAC_BAD_ARGUMENT', /criticStream\.push: frame/],
  ['voc: a string value', () => vlac.voc([1, 'a' as never]), 'ERR_VLAC_BAD_ARGUMENT', /voc: values\[1\]/],
  ['dataQuality: skip 0', () => vlac.dataQuality([1, 2], { skip: 0 }), 'ERR_VLAC_BAD_ARGUMENT', /dataQuality: skip/],
  ['renderPrompt: unknown kind', () => vlac.renderPrompt('nope' as never, {}), 'ERR_VLAC_BAD_ARGUMENT', /renderPrompt: .*kind/],

  // ---- tokenizer (api.md §3) ----
  ['decode: negative id', () => vlac.tokenizer.decode([-1]), 'ERR_VLAC_BAD_ARGUMENT', /decode: token id -1 at index 0/],
  ['decode: id = vocabSize', () => vlac.tokenizer.decode([5, 92553]), 'ERR_VLAC_BAD_ARGUMENT', /decode: token id 92553 at index 1/],
  ['decode: fractional id', () => vlac.tokenizer.decode([1.5]), 'ERR_VLAC_BAD_ARGUMENT', /ids\[0\]/],
  ['decode: NaN id', () => vlac.tokenizer.decode([NaN]), 'ERR_VLAC_BAD_ARGUMENT', /ids\[0\]/],
  ['decode: a string element', () => vlac.tokenizer.decode(['1'] as never), 'ERR_VLAC_BAD_ARGUMENT', /ids\[0\]/],
  ['decode: null', () => vlac.tokenizer.decode(null as never), 'ERR_VLAC_BAD_ARGUMENT', /ids/],
  ['encode: not a string', () => vlac.tokenizer.encode(5 as never), 'ERR_VLAC_BAD_ARGUMENT', /text/],
  ['idToToken: out of vocabulary', () => vlac.tokenizer.idToToken(1e6), 'ERR_VLAC_BAD_ARGUMENT', /id 1000000 is outside the vocabulary/],
  ['tokenToId: not a string', () => vlac.tokenizer.tokenToId(5 as never), 'ERR_VLAC_BAD_ARGUMENT', /piece/],
];

describe('every bad input rejects with its exact code and names the argument or input', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('%s', async (_name, call, code, names) => {
    const err = await failure(call);
    expect(err).toBeInstanceOf(VlacError);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(names);
  });

  it('the model still answers correctly after all of them', async () => {
    const r = await vlac.pairCritic(pair);
    expect(r.ids).toHaveLength(3);
    expect(r.finishReason).toBe('length');
  });
});

describe('a prompt longer than maxContext is ERR_VLAC_CONTEXT_FULL before any work', () => {
  let small: Vlac;
  beforeAll(async () => {
    small = await Vlac.load(tinyA, { device: 'cpu', maxContext: 256 });
  });
  afterAll(async () => {
    await small?.dispose();
  });

  // A sharp-like image whose every use is recorded: if the prompt is rejected before any work,
  // no image is decoded (and so nothing reaches the ViT).
  function spyImage() {
    const real = sharp(IMG);
    const use = vi.fn();
    const image = {
      clone: () => { use('clone'); return real.clone(); },
      metadata: () => { use('metadata'); return real.metadata(); },
      toBuffer: () => { use('toBuffer'); return real.toBuffer(); },
    };
    return { image: image as unknown as sharp.Sharp, use };
  }

  it('pairCritic rejects without decoding an image, far faster than one ViT pass', async () => {
    const vit = (await vlac.pairCritic(pair)).timing.encodeMs; // the same two images through the ViT
    const a = spyImage();
    const b = spyImage();
    const t0 = performance.now();
    const err = await failure(() => small.pairCritic({ ...pair, first: a.image, second: b.image }));
    const ms = performance.now() - t0;
    expect(err.code).toBe('ERR_VLAC_CONTEXT_FULL');
    expect(err.message).toMatch(/maxContext 256/);
    expect(a.use).not.toHaveBeenCalled();
    expect(b.use).not.toHaveBeenCalled();
    // The rejection is a length comparison after rendering the prompt: well under the ViT pass of
    // the same images (tens of milliseconds on tiny-a), with slack for a loaded 2-core machine.
    expect(ms).toBeLessThan(Math.max(vit / 2, 5));
  });

  it('done, trajectoryCritic and generate reject the same way', async () => {
    const a = spyImage();
    for (const call of [
      () => small.done({ task: 't', image: a.image, maxTokens: 3 }),
      () => small.trajectoryCritic({ task: 't', frames: [a.image, a.image], skip: 1, maxTokens: 3 }),
      () => small.generate({ prompt: 'x '.repeat(300), maxTokens: 3 }),
    ]) {
      expect((await failure(call)).code).toBe('ERR_VLAC_CONTEXT_FULL');
    }
    expect(a.use).not.toHaveBeenCalled();
  });

  it('a sequence rejects a prefill that would overflow before encoding its images', async () => {
    const a = spyImage();
    const seq = small.createSequence();
    const ids = [1, ...new Array<number>(300).fill(small.tokenizer.special.imgContext)];
    const err = await failure(() => seq.prefill({ ids, images: [a.image] }));
    expect(err.code).toBe('ERR_VLAC_CONTEXT_FULL');
    expect(err.message).toMatch(/301 tokens long, over maxContext 256/);
    expect(a.use).not.toHaveBeenCalled();
  });

  it('a sequence rejects generate whose maxTokens would overflow, and stays usable', async () => {
    const seq = small.createSequence();
    await seq.prefill({ ids: small.tokenizer.encode('hello', { bos: true }) });
    const err = await failure(() => seq.generate({ maxTokens: 256 }));
    expect(err.code).toBe('ERR_VLAC_CONTEXT_FULL');
    expect(err.message).toMatch(/maxTokens 256 exceed maxContext 256/);
    const out = await seq.generate({ maxTokens: 2 });
    expect(out.ids).toHaveLength(2);
    seq.dispose();
  });
});
