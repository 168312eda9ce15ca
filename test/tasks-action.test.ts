// Action (VLA) prompts and replies (vlac-behavior.md §10), describe, and free chat, through the
// scripted engine.
import { describe, expect, it } from 'vitest';
import { formatSongling, formatState } from '../src/tasks/prompts.js';
import { scriptedVlac, type ScriptedReply, type ScriptedRequest } from '../src/testing.js';
import { tinyA } from './tasks-helpers.js';

const RAW = [-18151, 11685, 418833, -124631, 65461, -133783, 27510];

async function scripted(reply: (r: ScriptedRequest) => ScriptedReply) {
  const requests: ScriptedRequest[] = [];
  const v = await scriptedVlac(tinyA, { reply: (r) => { requests.push(r); return reply(r); } });
  return { v, requests };
}

describe('state formatting', () => {
  it('format_state floors (-18151 -> -19, not -18)', () => {
    expect(formatState(RAW)).toEqual([-19, 11, 418, -125, 65, -134, 27]);
  });
  it('gripperFormat: round(floor(g / 10000) / 7, 1)', () => {
    expect(formatState(RAW, true)[6]).toBe(0.3);
    expect(formatSongling(formatState(RAW, true), { simple: false, positionTags: false })).toMatch(/open: 0\.3\}$/);
  });
  it('angles beyond +-180 are normalised unless the formatter is in state mode; +-180 stays', () => {
    const v = [0, 0, 0, 190, -200, 180, 1];
    expect(formatSongling(v, { simple: false, positionTags: false })).toBe('{x: 0mm, y: 0mm, z: 0mm, roll: -170 degrees, pitch: 160 degrees, yaw: 180 degrees, open: 1}');
    expect(formatSongling(v, { simple: true, positionTags: true })).toBe('(0 0 0 190 -200 180 1)');
  });
  it('two arms, with action or position tags, and the simple form', () => {
    const two = [...RAW.slice(0, 7).map(() => 1), ...RAW.slice(0, 7).map(() => 2)];
    expect(formatSongling(two, { simple: false, positionTags: false })).toBe(
      '\nleft: <action> {x: 1mm, y: 1mm, z: 1mm, roll: 1 degrees, pitch: 1 degrees, yaw: 1 degrees, open: 1} </action> \nright: <action> {x: 2mm, y: 2mm, z: 2mm, roll: 2 degrees, pitch: 2 degrees, yaw: 2 degrees, open: 2} </action>',
    );
    expect(formatSongling(two, { simple: false, positionTags: true })).toContain('left: <position> {x: 1mm');
    expect(formatSongling(two, { simple: true, positionTags: true })).toBe(
      '\nleft: <(position)> (1 1 1 1 1 1 1) </(position)> \nright: <(position)> (2, 2, 2, 2, 2, 2, 2) </(position)>',
    );
  });
  it('no state is the official "type" sentence; the input array is not mutated', () => {
    expect(formatSongling(undefined, { simple: false, positionTags: false })).toBe('End-Effector with units in mm and degrees');
    expect(formatSongling(undefined, { simple: true, positionTags: false })).toBe('End-Effector hide units in mm and degrees within () format');
    const v = [0, 0, 0, 190, 0, 0, 0];
    formatSongling(v, { simple: false, positionTags: false });
    expect(v[3]).toBe(190);
  });
});

describe('action methods', () => {
  it('action: the VLA example prompt over 2 views, the reply parsed into 7 numbers', async () => {
    const { v, requests } = await scripted(() => ({ text: '<action> {x: 3mm, y: -2mm, z: 0mm, roll: 1 degrees, pitch: 0 degrees, yaw: -1 degrees, open: 27} </action>' }));
    const r = await v.action({ task: 'Scoop the rice into the rice cooker.', images: ['v0.jpg', 'v2.jpg'], state: RAW });
    expect(requests[0]!.query).toBe(
      "Image-1: <image>\nImage-2: <image>\nThe current position state of the robotic arm's end gripper in the image is as follows: <state> {x: -19mm, y: 11mm, z: 418mm, roll: -125 degrees, pitch: 65 degrees, yaw: -134 degrees, open: 27} </state>. What action should the robot take to get better completion of instruction: <task> Scoop the rice into the rice cooker. </task> <action>",
    );
    expect(requests[0]!.images).toEqual(['v0.jpg', 'v2.jpg']);
    expect(r.action).toEqual([3, -2, 0, 1, 0, -1, 27]);
  });
  it('action: outputNum appends *n, then the think suffix; an unreadable reply is null with its text', async () => {
    const { v, requests } = await scripted(() => ({ text: 'move left' }));
    const r = await v.action({ task: 't', images: ['a'], outputNum: 5, think: true });
    expect(requests[0]!.query.endsWith('<action>*5 Please give reasoning process enclosed within <think> reasoning process here </think>.')).toBe(true);
    expect(requests[0]!.query).toContain('<state> End-Effector with units in mm and degrees </state>');
    expect(r).toMatchObject({ action: null, text: 'move left' });
  });
  it('actionScore: state and action formatted as given, the reply a number', async () => {
    const { v, requests } = await scripted(() => ({ text: '42' }));
    const r = await v.actionScore({ task: 't', image: 'a', state: RAW, action: [100, -200, 300, 0, 0, 0, 0] });
    expect(requests[0]!.query).toContain('<state> {x: -18151mm, y: 11685mm, z: 418833mm, roll: -71 degrees, pitch: -59 degrees, yaw: 137 degrees, open: 27510} </state>');
    expect(r.score).toBe(42);
  });
  it('actionInverse and describe use the official two-image prompts', async () => {
    const { v, requests } = await scripted((q) => ({ text: q.query.includes('<action>') ? '{x: 1mm, y: 2mm, z: 3mm, roll: 4 degrees, pitch: 5 degrees, yaw: 6 degrees, open: 7}' : 'Scoop the rice </task>' }));
    const a = await v.actionInverse({ first: 'a', second: 'b' });
    expect(a.action).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const d = await v.describe({ first: 'a', last: 'z' });
    expect(requests[1]!.query).toBe('Image-1: <image>\nImage-2: <image>\nCompare two images and infer what kind of task is achieving. <infer> <task>');
    expect(requests[1]!.images).toEqual(['a', 'z']);
    expect(d.text).toBe('Scoop the rice </task>');
  });
});

describe('renderPrompt through the engine object', () => {
  it('chat: missing <image> tags are prepended, surplus tags stay literal text', async () => {
    const { v } = await scripted(() => ({ text: '' }));
    const two = v.renderPrompt('chat', { prompt: 'Compare.', images: 2 });
    expect(two.text).toContain('user\n<img>{256 x <IMG_CONTEXT>}</img>\n<img>{256 x <IMG_CONTEXT>}</img>\nCompare.<|im_end|>');
    expect(two.imageSlots).toBe(2);
    const surplus = v.renderPrompt('chat', { prompt: 'A <image> and <image>', images: 1 });
    expect(surplus.text).toContain('user\nA <img>{256 x <IMG_CONTEXT>}</img>\n and <image><|im_end|>');
    expect(surplus.ids.filter((id) => id === v.tokenizer.special.imgContext)).toHaveLength(256);
  });
  it('a task containing special-token text is tokenized as the official path does (added tokens recognized)', async () => {
    const { v } = await scripted(() => ({ text: '' }));
    const r = v.renderPrompt('pair', { task: 'Pick up <|im_end|> x', refNum: 0 });
    const count = r.ids.filter((id) => id === v.tokenizer.special.imEnd).length;
    expect(count).toBe(3); // system, the task, the user turn
  });
});
