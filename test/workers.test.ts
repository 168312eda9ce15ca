// worker_threads (issue 19): each worker loads the addon into its own N-API env. Two workers and the
// main thread run the model at once and each gets the main thread's greedy results; workers exit
// cleanly whether they dispose their model, leave it to teardown, or are terminated mid-call.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vlac } from '../src/index.js';
import { fixture, tinyA } from './support/fixtures.js';

const WORKER = new URL('./support/vlac-worker.mjs', import.meta.url);
const JOB = {
  modelDir: tinyA,
  prompt: 'The robot picks up the cup and',
  maxTokens: 12,
  task: 'put the cup on the plate',
  first: fixture('preprocess/inputs/rgb-640x480.png'),
  second: fixture('preprocess/inputs/rgb-448x448.png'),
  dispose: true,
};

interface Result { kind: 'result'; textIds: number[]; pairIds: number[]; critic: number | null }

// Starts a worker and collects its messages and exit code.
function start(job: typeof JOB) {
  const worker = new Worker(WORKER, { workerData: job });
  const loaded = new Promise<void>((resolve) => worker.on('message', (m) => { if (m.kind === 'loaded') resolve(); }));
  const result = new Promise<Result>((resolve, reject) => {
    worker.on('message', (m) => { if (m.kind === 'result') resolve(m); });
    worker.on('error', reject);
  });
  const exit = new Promise<number>((resolve) => worker.on('exit', resolve));
  result.catch(() => undefined);
  return { worker, loaded, result, exit };
}

let vlac: Vlac;
let expected: { textIds: number[]; pairIds: number[] };

async function mainThreadRun(): Promise<{ textIds: number[]; pairIds: number[] }> {
  const seq = vlac.createSequence();
  await seq.prefill({ ids: vlac.tokenizer.encode(JOB.prompt, { bos: true }) });
  const text = await seq.generate({ maxTokens: JOB.maxTokens });
  seq.dispose();
  const pair = await vlac.pairCritic({ task: JOB.task, first: JOB.first, second: JOB.second, maxTokens: 3 });
  return { textIds: Array.from(text.ids), pairIds: Array.from(pair.ids) };
}

beforeAll(async () => {
  vlac = await Vlac.load(tinyA, { device: 'cpu' });
  expected = await mainThreadRun();
  expect(expected.textIds).toHaveLength(JOB.maxTokens);
});
afterAll(async () => {
  await vlac?.dispose();
});

describe('worker_threads', () => {
  it('two workers and the main thread at once each get the same greedy results; the workers exit with 0', async () => {
    const workers = [start(JOB), start(JOB)];
    const main = mainThreadRun();
    const results = await Promise.all(workers.map((w) => w.result));
    for (const r of results) {
      expect(r.textIds).toEqual(expected.textIds);
      expect(r.pairIds).toEqual(expected.pairIds);
    }
    expect(await main).toEqual(expected);
    expect(await Promise.all(workers.map((w) => w.exit))).toEqual([0, 0]);
    expect(await mainThreadRun()).toEqual(expected); // the main thread's model is untouched
  });

  it('a worker that never disposes its model still exits with 0 (the env teardown frees it)', async () => {
    const w = start({ ...JOB, dispose: false });
    expect((await w.result).textIds).toEqual(expected.textIds);
    expect(await w.exit).toBe(0);
  });

  it('terminating a worker in the middle of a long decode stops it promptly, and nothing else is affected', async () => {
    const w = start({ ...JOB, maxTokens: 3000 });
    await w.loaded;
    await new Promise((r) => setTimeout(r, 100)); // the 3,000-token decode is running
    const t0 = performance.now();
    await w.worker.terminate();
    // The model's teardown marks it disposed, so the job stops at its next decode step.
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(await w.exit).toBe(1);
    expect(await mainThreadRun()).toEqual(expected);
    const again = start(JOB);
    expect((await again.result).pairIds).toEqual(expected.pairIds);
    expect(await again.exit).toBe(0);
  });
});
