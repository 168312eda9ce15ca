// A worker_threads body for test/workers.test.ts: loads a model in its own thread (its own N-API
// env), answers with greedy results, then disposes (or leaves the model to the worker's teardown).
// Plain JS that loads the TypeScript sources through tsx, so the test runs on the working tree.
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { Vlac } = await tsImport('../../src/index.ts', import.meta.url);
/** @type {{ modelDir: string, prompt: string, maxTokens: number, first: string, second: string, task: string, dispose: boolean }} */
const job = workerData;

const vlac = await Vlac.load(job.modelDir, { device: 'cpu', threads: 1 });
const seq = vlac.createSequence();
await seq.prefill({ ids: vlac.tokenizer.encode(job.prompt, { bos: true }) });
parentPort.postMessage({ kind: 'loaded' });
const text = await seq.generate({ maxTokens: job.maxTokens });
seq.dispose();
const pair = await vlac.pairCritic({ task: job.task, first: job.first, second: job.second, maxTokens: 3 });
parentPort.postMessage({ kind: 'result', textIds: Array.from(text.ids), pairIds: Array.from(pair.ids), critic: pair.critic });
if (job.dispose) await vlac.dispose();
