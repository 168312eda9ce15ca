// vlac-engine/testing: the task methods with a scripted model. The golden model cases render
// exactly through pairCritic / done, and the scripted engine behaves as api.md §6b says.
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VlacError } from '../src/errors.js';
import { imageTokensFromConfig, scriptedVlac, type ScriptedReply, type ScriptedRequest } from '../src/testing.js';
import { fixtureJson, fixtures, tinyA } from './tasks-helpers.js';

interface GoldenCase { name: string; task: string | null; image_files: string[]; input_ids: number[]; greedy: number[] }
const golden = fixtureJson<{ cases: GoldenCase[] }>('tiny-a/golden/cases.json').cases;
const gcase = (name: string) => golden.find((c) => c.name === name)!;
const file = (rel: string) => path.join(fixtures, rel);

async function recording(reply: (r: ScriptedRequest) => ScriptedReply = () => ({ text: '+12' })) {
  const requests: ScriptedRequest[] = [];
  const v = await scriptedVlac(tinyA, { reply: (r) => { requests.push(r); return reply(r); } });
  return { v, requests };
}

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<VlacError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(VlacError);
    return err as VlacError;
  }
  throw new Error('expected a VlacError');
}

describe('the golden model cases through the task methods', () => {
  it('pairCritic on the two-image case sends exactly its input_ids', async () => {
    const c = gcase('two-image');
    const { v, requests } = await recording();
    await v.pairCritic({ task: c.task!, first: file(c.image_files[0]!), second: file(c.image_files[1]!) });
    expect(requests).toHaveLength(1);
    expect(Array.from(requests[0]!.ids)).toEqual(c.input_ids);
    expect(requests[0]!.images).toEqual(c.image_files.map(file));
  });

  it('done on the one-image case sends exactly its input_ids', async () => {
    const c = gcase('one-image');
    const { v, requests } = await recording(() => ({ text: '1' }));
    const r = await v.done({ task: c.task!, image: file(c.image_files[0]!) });
    expect(Array.from(requests[0]!.ids)).toEqual(c.input_ids);
    expect(r).toMatchObject({ done: true, value: 1, text: '1' });
  });

  it('pairCritic with a 2-frame reference sends exactly the ntk-prompt case', async () => {
    const c = gcase('ntk-prompt');
    const [r0, r1, start, first, second] = c.image_files.map(file);
    const { v, requests } = await recording();
    await v.pairCritic({ task: c.task!, reference: [r0!, r1!], refNum: 2, start: start!, first: first!, second: second! });
    expect(Array.from(requests[0]!.ids)).toEqual(c.input_ids);
  });

  it('a random-weight greedy reply is not a number: critic null, text and ids kept', async () => {
    const c = gcase('two-image');
    const v = await scriptedVlac(tinyA, {
      reply: () => ({ text: v.tokenizer.decode(c.greedy), tokens: c.greedy.map((id) => ({ id, token: v.tokenizer.decode([id]), logprob: -1 })), finishReason: 'length' }),
    });
    const r = await v.pairCritic({ task: c.task!, first: file(c.image_files[0]!), second: file(c.image_files[1]!), rich: true });
    expect(r.critic).toBeNull();
    expect(Array.from(r.ids)).toEqual(c.greedy);
    expect(r.finishReason).toBe('length');
    expect(r.text).toBe(v.tokenizer.decode(c.greedy));
  });
});

describe('scriptedVlac', () => {
  it('counts calls and requests, and passes the caller\'s own image objects', async () => {
    const a = new Uint8Array([1]);
    const b = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 as const };
    const { v, requests } = await recording();
    await v.trajectoryCritic({ task: 't', frames: [a, b, a, b, a], skip: 1, batchSize: 3 });
    expect(requests.map((r) => [r.call, r.index])).toEqual([[0, 0], [0, 1], [0, 2], [1, 0]]);
    expect(requests[0]!.images[0]).toBe(a);
    expect(requests[0]!.images[1]).toBe(b);
    await v.pairCritic({ task: 't', first: a, second: b });
    expect(requests[4]!.call).toBe(2);
    expect(requests[4]!.query).toContain('<task> t </task> <score>');
  });

  it('a reply without tokens is the text tokenized, each token certain', async () => {
    const { v } = await recording(() => ({ text: '-12' }));
    const r = await v.pairCritic({ task: 't', first: 'a.png', second: 'b.png', rich: true });
    expect(Array.from(r.ids)).toEqual(Array.from(v.tokenizer.encode('-12')));
    expect(r.steps.every((s) => s.logprob === 0 && s.top[0]!.id === s.id)).toBe(true);
    expect(r.critic).toBe(-12);
    expect(r.finishReason).toBe('stop');
  });

  it('rich mode uses the scripted top logprobs', async () => {
    const { v } = await recording(() => ({
      text: '-12',
      tokens: [
        { id: 285, token: '-', logprob: 0 },
        {
          id: 1, token: '12', logprob: Math.log(0.55),
          top: [
            { id: 1, token: '12', logprob: Math.log(0.55) }, { id: 2, token: '10', logprob: Math.log(0.25) },
            { id: 3, token: '15', logprob: Math.log(0.12) }, { id: 4, token: '1', logprob: Math.log(0.04) },
          ],
        },
        { id: 92542, token: '<|im_end|>', logprob: 0 },
      ],
    }));
    const r = await v.pairCritic({ task: 't', first: 'a.png', second: 'b.png', rich: true });
    expect(r.critic).toBe(-11.8);
    const plain = await v.pairCritic({ task: 't', first: 'a.png', second: 'b.png' });
    expect(plain.critic).toBe(-12);
  });

  it('methods needing pixels or weights fail with ERR_VLAC_BAD_ARGUMENT', async () => {
    const { v } = await recording();
    expect((await rejection(v.preprocess('a.png'))).code).toBe('ERR_VLAC_BAD_ARGUMENT');
    expect((await rejection(v.encodeImages(['a.png']))).code).toBe('ERR_VLAC_BAD_ARGUMENT');
    expect((await rejection(() => v.createSequence())).code).toBe('ERR_VLAC_BAD_ARGUMENT');
  });

  it('a missing folder is ERR_VLAC_NOT_FOUND, a bad config ERR_VLAC_BAD_CONFIG', async () => {
    expect((await rejection(scriptedVlac('/nonexistent/model', { reply: () => ({ text: '' }) }))).code).toBe('ERR_VLAC_NOT_FOUND');
    const dir = mkdtempSync(path.join(tmpdir(), 'vlac-scripted-'));
    writeFileSync(path.join(dir, 'config.json'), '{ not json');
    expect((await rejection(scriptedVlac(dir, { reply: () => ({ text: '' }) }))).code).toBe('ERR_VLAC_BAD_CONFIG');
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ downsample_ratio: 0.5, vision_config: { patch_size: 14 } }));
    const e = await rejection(scriptedVlac(dir, { reply: () => ({ text: '' }) }));
    expect(e.code).toBe('ERR_VLAC_BAD_CONFIG');
    expect(e.message).toMatch(/force_image_size/);
    expect((await rejection(scriptedVlac(tinyA, {} as never))).code).toBe('ERR_VLAC_BAD_ARGUMENT');
  });

  it('reads the image token count from config.json, not a constant', async () => {
    expect(imageTokensFromConfig({ force_image_size: 448, downsample_ratio: 0.5, vision_config: { patch_size: 14 } }, 'c')).toBe(256);
    expect(imageTokensFromConfig({ force_image_size: 224, downsample_ratio: 0.5, vision_config: { patch_size: 14 } }, 'c')).toBe(64);
    const dir = mkdtempSync(path.join(tmpdir(), 'vlac-scripted-'));
    for (const f of ['tokenizer.model', 'tokenizer_config.json', 'added_tokens.json', 'special_tokens_map.json', 'generation_config.json']) {
      copyFileSync(path.join(tinyA, f), path.join(dir, f));
    }
    const cfg = fixtureJson('tiny-a/config.json');
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, force_image_size: 224 }));
    const requests: ScriptedRequest[] = [];
    const v = await scriptedVlac(dir, { reply: (r) => { requests.push(r); return { text: '0' }; } });
    await v.done({ task: 't', image: 'x.png' });
    expect(requests[0]!.ids.filter((id) => id === v.tokenizer.special.imgContext)).toHaveLength(64);
  });

  it('a malformed scripted reply is ERR_VLAC_BAD_ARGUMENT naming the call', async () => {
    const { v } = await recording(() => ({ text: 5 }) as never);
    const e = await rejection(v.pairCritic({ task: 't', first: 'a', second: 'b' }));
    expect(e.code).toBe('ERR_VLAC_BAD_ARGUMENT');
    expect(e.message).toMatch(/call 0 request 0/);
    const { v: w } = await recording(() => ({ text: '1', tokens: [{ id: 1.5, token: '1', logprob: 0 }] }));
    expect((await rejection(w.pairCritic({ task: 't', first: 'a', second: 'b' }))).message).toMatch(/tokens\[0\]/);
  });

  it('an aborted signal rejects with ERR_VLAC_ABORTED before any model call', async () => {
    const { v, requests } = await recording();
    const ac = new AbortController();
    ac.abort();
    const e = await rejection(v.trajectoryCritic({ task: 't', frames: ['a', 'b', 'c'], skip: 1, signal: ac.signal }));
    expect(e.code).toBe('ERR_VLAC_ABORTED');
    expect(requests).toHaveLength(0);
  });

  it('aborting between batches stops the trajectory', async () => {
    const ac = new AbortController();
    const { v, requests } = await recording((r) => { if (r.call === 0) ac.abort(); return { text: '1' }; });
    const e = await rejection(v.trajectoryCritic({ task: 't', frames: ['a', 'b', 'c', 'd'], skip: 1, batchSize: 1, signal: ac.signal }));
    expect(e.code).toBe('ERR_VLAC_ABORTED');
    expect(requests).toHaveLength(1);
  });

  it('a passed timeout rejects with ERR_VLAC_TIMEOUT', async () => {
    const { v } = await recording(async () => { await new Promise((r) => setTimeout(r, 30)); return { text: '1' }; });
    const e = await rejection(v.trajectoryCritic({ task: 't', frames: ['a', 'b', 'c', 'd'], skip: 1, batchSize: 1, timeoutMs: 10 }));
    expect(e.code).toBe('ERR_VLAC_TIMEOUT');
  });

  it('reports progress per batch and a total time', async () => {
    const { v } = await recording();
    const seen: [number, number][] = [];
    const r = await v.trajectoryCritic({ task: 't', frames: ['a', 'b', 'c', 'd', 'e', 'f'], skip: 1, batchSize: 2, onProgress: (d, t) => seen.push([d, t]) });
    expect(seen).toEqual([[2, 5], [4, 5], [5, 5]]);
    expect(r.timing.totalMs).toBeGreaterThanOrEqual(0);
    expect(Object.keys(r.timing).sort()).toEqual(['decodeImagesMs', 'decodeMs', 'encodeMs', 'prefillMs', 'totalMs']);
  });

  it('free chat renders the prompt with its images and an optional system prompt', async () => {
    const { v, requests } = await recording(() => ({ text: 'Paris' }));
    const r = await v.generate({ prompt: 'What is the capital of France? Answer in one word.' });
    expect(Array.from(requests[0]!.ids)).toEqual(gcase('text').input_ids);
    expect(r.text).toBe('Paris');
    await v.generate({ prompt: 'Describe.', images: ['a.png'], system: 'Be brief.' });
    expect(v.tokenizer.decode(requests[1]!.ids)).toContain('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n<img>');
    expect(requests[1]!.images).toEqual(['a.png']);
  });
});
