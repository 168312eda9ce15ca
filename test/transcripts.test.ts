// Replays the official transcripts (fixtures/vlac/transcripts.json): the official
// get_trajectory_critic / get_trajectory_done ran against a scripted model; the engine's task layer,
// driven by the same replies through scriptedVlac, must make the same requests in the same batches
// and return the same results.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { criticToValue, negativeRate, voc } from '../src/tasks/value.js';
import { scriptedVlac, type ScriptedRequest } from '../src/testing.js';
import { fixtureJson, fixtures, tinyA } from './tasks-helpers.js';

interface OfficialToken { token: string; id: number; logprob: number; top_logprobs: { token: string; id: number; logprob: number }[] }
interface OfficialRequest {
  images: string[]; query: string; prompt_len: number; ids_sha256: string;
  reply: { text: string; tokens: OfficialToken[] };
}
interface Run {
  name: string; function: 'get_trajectory_critic' | 'get_trajectory_done'; args: Record<string, any>;
  calls: OfficialRequest[][]; result: any; error: string | null;
}
interface Transcripts {
  frames: Record<string, string>;
  runs: Run[];
  values: { critic: number[]; simple: boolean | 'mix_f'; value: number[]; voc: number; negative_rate: number }[];
}

const T = fixtureJson<Transcripts>('vlac/transcripts.json');
const fileOf = (name: string) => path.join(fixtures, T.frames[name]!);
const nameOf = new Map(Object.entries(T.frames).map(([name, rel]) => [path.join(fixtures, rel), name]));

function sha256(ids: Int32Array): string {
  return createHash('sha256').update(Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex');
}

// The official function's arguments as the engine's options, every one passed explicitly: the
// official defaults (fixtures/README.md) differ from the engine's (api.md §5).
function criticOptions(a: Record<string, any>) {
  return {
    task: a.task,
    frames: (a.image_list as string[]).map(fileOf),
    reference: a.ref_image_list ? (a.ref_image_list as string[]).map(fileOf) : undefined,
    refNum: a.ref_num ?? 9,
    batchSize: a.batch_num ?? 20,
    skip: a.skip ?? 1,
    think: a.think ?? false,
    rich: a.rich ?? false,
    reverse: a.reverse_eval ?? false,
    frameSkip: a.frame_skip ?? true,
    additionScale: a.addition_scale ?? 1,
    bias: a.bias ?? 0,
    relatedCritic: a.related_critic ?? false,
    positiveClip: a.positive_clip ?? 0,
    negativeClip: a.negative_clip ?? 0,
    valueMode: ({ true: 'simple', false: 'ratio', mix_f: 'mix_f' } as const)[String(a.value_simple ?? true) as 'true'],
  };
}

function doneOptions(a: Record<string, any>) {
  return {
    task: a.task,
    frames: (a.image_list as string[]).map(fileOf),
    reference: a.ref_image_list ? (a.ref_image_list as string[]).map(fileOf) : undefined,
    goal: a.goal_image ? fileOf(a.goal_image) : undefined,
    refNum: a.ref_num ?? 9,
    batchSize: a.batch_num ?? 20,
    rich: a.rich ?? false,
    threshold: a.threshold ?? 0,
    skip: a.skip ?? 1,
  };
}

describe('official transcripts replay through scriptedVlac', () => {
  it.each(T.runs.map((r) => [r.name, r] as const))('%s', async (_name, run) => {
    expect(run.error).toBeNull();
    const seen: ScriptedRequest[][] = [];
    const v = await scriptedVlac(tinyA, {
      reply: (req) => {
        (seen[req.call] ??= [])[req.index] = req;
        const official = run.calls[req.call]?.[req.index];
        if (!official) throw new Error(`unexpected request: call ${req.call} index ${req.index}`);
        return {
          text: official.reply.text,
          tokens: official.reply.tokens.map((t) => ({ id: t.id, token: t.token, logprob: t.logprob, top: t.top_logprobs })),
        };
      },
    });

    let result: unknown;
    if (run.function === 'get_trajectory_critic') {
      const r = await v.trajectoryCritic(criticOptions(run.args));
      result = [r.critic, r.value];
      expect(r.unparsed).toBe(0);
    } else {
      result = (await v.trajectoryDone(doneOptions(run.args))).done;
    }

    // The same requests in the same batches.
    expect(seen.map((c) => c.length)).toEqual(run.calls.map((c) => c.length));
    run.calls.forEach((call, ci) => call.forEach((official, ri) => {
      const req = seen[ci]![ri]!;
      const where = `call ${ci} request ${ri}`;
      expect(req.images.map((img) => nameOf.get(img as string)), where).toEqual(official.images);
      expect(req.query, where).toBe(official.query);
      expect(req.ids.length, where).toBe(official.prompt_len);
      expect(sha256(req.ids), where).toBe(official.ids_sha256);
    }));
    // The same result.
    expect(result).toEqual(run.result);
  });
});

describe('official value curves, VOC and negative rate', () => {
  const mode = { true: 'simple', false: 'ratio', mix_f: 'mix_f' } as const;
  it.each(T.values.map((e, i) => [`${i} ${JSON.stringify(e.critic)} simple=${e.simple}`, e] as const))('%s', (_n, e) => {
    expect(criticToValue(e.critic, mode[String(e.simple) as 'true'])).toEqual(e.value);
    expect(voc(e.value)).toBeCloseTo(e.voc, 12);
    expect(negativeRate(e.critic)).toBe(e.negative_rate);
  });
});
