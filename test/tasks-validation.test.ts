// Every argument is checked at the task boundary: ERR_VLAC_BAD_ARGUMENT naming the argument,
// before any model call.
import { describe, expect, it } from 'vitest';
import { VlacError } from '../src/errors.js';
import { scriptedVlac, type ScriptedRequest } from '../src/testing.js';
import { tinyA } from './tasks-helpers.js';

const requests: ScriptedRequest[] = [];
const vp = scriptedVlac(tinyA, { reply: (r) => { requests.push(r); return { text: '1' }; } });

async function badArg(fn: (v: Awaited<typeof vp>) => unknown, names: RegExp) {
  const v = await vp;
  const before = requests.length;
  let err: unknown;
  try {
    await fn(v);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a rejection').toBeInstanceOf(VlacError);
  expect((err as VlacError).code).toBe('ERR_VLAC_BAD_ARGUMENT');
  expect((err as VlacError).message).toMatch(names);
  expect(requests.length, 'no model call').toBe(before);
}

const F = ['a.png', 'b.png', 'c.png'];

describe('argument validation', () => {
  it.each([
    ['options not an object', (v: any) => v.pairCritic(null), /options must be an object/],
    ['empty task', (v: any) => v.pairCritic({ task: '', first: 'a', second: 'b' }), /pairCritic: task must not be empty/],
    ['task not a string', (v: any) => v.pairCritic({ task: 5, first: 'a', second: 'b' }), /pairCritic: task must be a string/],
    ['missing image', (v: any) => v.pairCritic({ task: 't', first: 'a' }), /pairCritic: second must be an image/],
    ['image of a wrong kind', (v: any) => v.pairCritic({ task: 't', first: 42, second: 'b' }), /pairCritic: first must be an image/],
    ['empty image path', (v: any) => v.pairCritic({ task: 't', first: '', second: 'b' }), /first must not be an empty path/],
    ['refNum 1 with a reference', (v: any) => v.pairCritic({ task: 't', first: 'a', second: 'b', reference: F, refNum: 1 }), /refNum must be at least 2/],
    ['refNum not an integer', (v: any) => v.pairCritic({ task: 't', first: 'a', second: 'b', refNum: 2.5 }), /refNum must be an integer/],
    ['think not a boolean', (v: any) => v.pairCritic({ task: 't', first: 'a', second: 'b', think: 'yes' }), /think must be a boolean/],
    ['maxTokens 0', (v: any) => v.pairCritic({ task: 't', first: 'a', second: 'b', maxTokens: 0 }), /maxTokens must be at least 1/],
    ['signal not an AbortSignal', (v: any) => v.pairCritic({ task: 't', first: 'a', second: 'b', signal: {} }), /signal must be an AbortSignal/],
    ['timeoutMs NaN', (v: any) => v.pairCritic({ task: 't', first: 'a', second: 'b', timeoutMs: NaN }), /timeoutMs must be a finite number/],
    ['reference with a bad entry', (v: any) => v.pairCritic({ task: 't', first: 'a', second: 'b', reference: ['r', null] }), /reference\[1\] must be an image/],
    ['empty reference', (v: any) => v.pairCritic({ task: 't', first: 'a', second: 'b', reference: [] }), /reference must hold at least 1/],
  ])('pairCritic: %s', (_n, fn, re) => badArg(fn, re));

  it.each([
    ['frames not an array', (v: any) => v.trajectoryCritic({ task: 't', frames: 'a.png' }), /frames must be an array/],
    ['empty frames', (v: any) => v.trajectoryCritic({ task: 't', frames: [] }), /frames must hold at least 1/],
    ['frame of a wrong kind', (v: any) => v.trajectoryCritic({ task: 't', frames: ['a', {}] }), /frames\[1\] must be an image/],
    ['skip 0', (v: any) => v.trajectoryCritic({ task: 't', frames: F, skip: 0 }), /skip must be at least 1/],
    ['batchSize negative', (v: any) => v.trajectoryCritic({ task: 't', frames: F, batchSize: -1 }), /batchSize must be at least 1/],
    ['unknown valueMode', (v: any) => v.trajectoryCritic({ task: 't', frames: F, valueMode: 'linear' }), /valueMode must be one of 'simple', 'ratio', 'mix_f'/],
    ['additionScale 0', (v: any) => v.trajectoryCritic({ task: 't', frames: F, additionScale: 0 }), /additionScale must not be 0/],
    ['bias Infinity', (v: any) => v.trajectoryCritic({ task: 't', frames: F, bias: Infinity }), /bias must be a finite number/],
    ['negative positiveClip', (v: any) => v.trajectoryCritic({ task: 't', frames: F, positiveClip: -1 }), /positiveClip must be at least 0/],
    ['negativeClip a string', (v: any) => v.trajectoryCritic({ task: 't', frames: F, negativeClip: '3' }), /negativeClip must be a finite number/],
    ['done threshold NaN', (v: any) => v.trajectoryCritic({ task: 't', frames: F, done: { threshold: NaN } }), /done.threshold must be a finite number/],
    ['done not an object', (v: any) => v.trajectoryCritic({ task: 't', frames: F, done: 3 }), /done: options must be an object/],
    ['onProgress not a function', (v: any) => v.trajectoryCritic({ task: 't', frames: F, onProgress: 1 }), /onProgress must be a function/],
    ['refNum 0 with a reference', (v: any) => v.trajectoryCritic({ task: 't', frames: F, reference: F, refNum: 0 }), /refNum must be at least 2/],
    ['video path empty', (v: any) => v.trajectoryCritic({ task: 't', frames: { video: '' } }), /frames.video must be a non-empty file path/],
    ['video fps 0', (v: any) => v.trajectoryCritic({ task: 't', frames: { video: 'v.mp4', fps: 0 } }), /frames.fps must be at least/],
  ])('trajectoryCritic: %s', (_n, fn, re) => badArg(fn, re));

  it.each([
    ['threshold not finite', (v: any) => v.done({ task: 't', image: 'a', threshold: -Infinity }), /done: threshold must be a finite number/],
    ['goal and reference together', (v: any) => v.done({ task: 't', image: 'a', goal: 'g', reference: F }), /either goal .* or reference/],
    ['in-context without first/previous', (v: any) => v.done({ task: 't', image: 'a', reference: F }), /needs first .* and previous/],
    ['plain done needs a task', (v: any) => v.done({ task: null, image: 'a' }), /done: task must be a string/],
    ['trajectoryDone skip 0', (v: any) => v.trajectoryDone({ task: 't', frames: F, skip: 0 }), /trajectoryDone: skip must be at least 1/],
    ['trajectoryDone refNum 1', (v: any) => v.trajectoryDone({ task: 't', frames: F, reference: F, refNum: 1 }), /refNum must be at least 2/],
  ])('done: %s', (_n, fn, re) => badArg(fn, re));

  it.each([
    ['no images', (v: any) => v.action({ task: 't', images: [] }), /action: images must hold 1 to 3 images/],
    ['four views', (v: any) => v.action({ task: 't', images: ['a', 'b', 'c', 'd'] }), /action: images must hold 1 to 3 images/],
    ['state of 6 numbers', (v: any) => v.action({ task: 't', images: ['a'], state: [1, 2, 3, 4, 5, 6] }), /action: state must hold 7 or 14 numbers/],
    ['state with NaN', (v: any) => v.action({ task: 't', images: ['a'], state: [1, 2, 3, 4, 5, 6, NaN] }), /action: state\[6\] must be a finite number/],
    ['actionScore without action', (v: any) => v.actionScore({ task: 't', image: 'a', state: [1, 2, 3, 4, 5, 6, 7] }), /actionScore: action must be an array/],
    ['actionInverse without second', (v: any) => v.actionInverse({ first: 'a' }), /actionInverse: second must be an image/],
    ['describe without last', (v: any) => v.describe({ first: 'a' }), /describe: last must be an image/],
    ['generate without prompt', (v: any) => v.generate({}), /generate: prompt must be a string/],
    ['generate temperature -1', (v: any) => v.generate({ prompt: 'p', temperature: -1 }), /temperature must be at least 0/],
    ['generate topP 2', (v: any) => v.generate({ prompt: 'p', topP: 2 }), /topP must be in \[0, 1\]/],
    ['generate logprobs 21', (v: any) => v.generate({ prompt: 'p', logprobs: 21 }), /logprobs must be in \[0, 20\]/],
    ['generate stop not strings', (v: any) => v.generate({ prompt: 'p', stop: [1] }), /stop must be an array of non-empty strings/],
  ])('actions and chat: %s', (_n, fn, re) => badArg(fn, re));

  it.each([
    ['voc of strings', (v: any) => v.voc(['a']), /voc: values\[0\] must be a number/],
    ['dataQuality of a non-array', (v: any) => v.dataQuality(5), /dataQuality: critic must be an array/],
    ['dataQuality skip 0', (v: any) => v.dataQuality([1], { skip: 0 }), /dataQuality: skip must be at least 1/],
    ['renderPrompt unknown kind', (v: any) => v.renderPrompt('critic', { task: 't' }), /unknown kind "critic"/],
    ['renderPrompt pair refNum 1', (v: any) => v.renderPrompt('pair', { task: 't', refNum: 1 }), /refNum must be 0 .* or at least 2/],
    ['renderPrompt action views 4', (v: any) => v.renderPrompt('action', { task: 't', views: 4 }), /views must be an integer in \[1, 3\]/],
    ['renderPrompt done without task', (v: any) => v.renderPrompt('done', {}), /task must be a non-empty string/],
  ])('pure helpers: %s', (_n, fn, re) => badArg(fn, re));
});

describe('video input', () => {
  it('without ffmpeg on PATH, a video is ERR_VLAC_BAD_ARGUMENT saying ffmpeg is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await badArg((v) => v.trajectoryCritic({ task: 't', frames: { video: '/tmp/x.mp4' } }), /needs ffmpeg/);
    } finally {
      process.env.PATH = path;
    }
  });
});
