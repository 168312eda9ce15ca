// The streaming critic (api.md §6): each push scores the new frame against the previous one, and
// the results equal trajectoryCritic with skip 1 on the same frames.
import { describe, expect, it } from 'vitest';
import { VlacError } from '../src/errors.js';
import { scriptedVlac, type ScriptedReply, type ScriptedRequest } from '../src/testing.js';
import { tinyA } from './tasks-helpers.js';

// A deterministic reply per pair, so the stream and the trajectory see the same answers.
const answer = (r: ScriptedRequest): ScriptedReply => {
  if (r.query.includes('<done>')) return { text: r.images[0] === 'f4' ? '1' : '0' };
  const [a, b] = r.images.slice(-2) as string[];
  return { text: String((Number(b!.slice(1)) * 7 - Number(a!.slice(1)) * 3) % 23 - 5) };
};

async function scripted() {
  const requests: ScriptedRequest[] = [];
  const v = await scriptedVlac(tinyA, { reply: (r) => { requests.push(r); return answer(r); } });
  return { v, requests };
}
const frames = ['f0', 'f1', 'f2', 'f3', 'f4'];

describe('criticStream', () => {
  it('equals trajectoryCritic with skip 1 (critics, values, requests)', async () => {
    const { v, requests } = await scripted();
    const t = await v.trajectoryCritic({ task: 't', frames, skip: 1, reference: ['r0', 'r1', 'r2'], refNum: 3 });
    const trajRequests = requests.splice(0);
    const s = v.criticStream({ task: 't', reference: ['r0', 'r1', 'r2'], refNum: 3 });
    const pushed = await Promise.all(frames.map((f) => s.push(f)));
    expect(pushed.map((p) => p.index)).toEqual([0, 1, 2, 3, 4]);
    expect(pushed[0]!.critic).toBeNull();
    expect(pushed.slice(1).map((p) => p.critic)).toEqual(t.critic);
    expect(pushed.map((p) => p.value)).toEqual(t.value);
    expect(requests.map((r) => [r.images, r.query])).toEqual(trajRequests.map((r) => [r.images, r.query]));
    expect(requests.map((r) => Array.from(r.ids))).toEqual(trajRequests.map((r) => Array.from(r.ids)));
  });

  it('done per frame, strict > threshold, in the same call as the critic', async () => {
    const { v, requests } = await scripted();
    const s = v.criticStream({ task: 't', done: { threshold: 0.9 } });
    const out = [];
    for (const f of frames) out.push(await s.push(f));
    expect(out.map((p) => p.done)).toEqual([false, false, false, false, true]);
    expect(requests.filter((r) => r.call === 1).map((r) => r.query.includes('<done>'))).toEqual([true, false]);
  });

  it('reset starts a new episode; close rejects later pushes with ERR_VLAC_DISPOSED', async () => {
    const { v } = await scripted();
    const s = v.criticStream({ task: 't' });
    await s.push('f0');
    await s.push('f1');
    s.reset();
    const first = await s.push('f2');
    expect(first).toMatchObject({ index: 0, critic: null, value: 0 });
    s.close();
    await expect(s.push('f3')).rejects.toMatchObject({ code: 'ERR_VLAC_DISPOSED' });
  });

  it('a bad frame rejects that push only', async () => {
    const { v } = await scripted();
    const s = v.criticStream({ task: 't' });
    await s.push('f0');
    const err = await s.push(42 as never).catch((e) => e);
    expect(err).toBeInstanceOf(VlacError);
    expect(err.code).toBe('ERR_VLAC_BAD_ARGUMENT');
    expect((await s.push('f1')).index).toBe(1);
  });

  it('bad stream options are ERR_VLAC_BAD_ARGUMENT', async () => {
    const { v } = await scripted();
    expect(() => v.criticStream({ task: '' })).toThrow(/criticStream: task must not be empty/);
    expect(() => v.criticStream({ task: 't', reference: ['r'], refNum: 1 })).toThrow(/refNum must be at least 2/);
  });
});
