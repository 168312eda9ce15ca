#!/usr/bin/env node
// Start-up of weights 'int8' (issue 16): `Vlac.load` of a bf16 folder quantizing on load, against
// `Vlac.load` of the folder `vlac quantize` wrote from it (codes read and repacked, nothing
// re-quantized), and the plain bf16 load for reference. Each load runs in a fresh process (its
// own RSS, no state shared), after one untimed load of the same folder (warm page cache: the
// figure is the engine's work, not the disk's); the median of --repeats loads is reported.
//
//   node scripts/int8-startup.mjs [--model DIR] [--quantized DIR] [--repeats 3] [--threads N]
//        [--json FILE] [--dist DIR]
//
// --model: a bf16 checkpoint folder (default ../shared/fixtures/tiny-a; the full-size figure:
// .cache/random-vlac-2b). --quantized: its pre-quantized folder; when absent it is written to a
// temporary folder first (that `vlac quantize` time is reported too) and removed at the end.
// Runs on the compiled package (dist/, `npm run build:ts`; --dist names another build of it).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const dist = resolve(option('dist', join(root, 'dist')));
const threads = option('threads', undefined);

if (process.argv[2] === '--child') {
  // one load: node int8-startup.mjs --child DIR bf16|int8
  const { Vlac } = await import(join(dist, 'index.js'));
  const [, , , dir, weights] = process.argv;
  const t0 = performance.now();
  const v = await Vlac.load(dir, { device: 'cpu', weights, ...(threads ? { threads: Number(threads) } : {}) });
  const loadMs = performance.now() - t0;
  const out = { loadMs, rssMiB: process.memoryUsage().rss / 2 ** 20, weights: v.info.weights,
    weightsBytes: v.info.memory.weightsBytes };
  await v.dispose();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

const model = resolve(option('model', join(root, '..', 'shared', 'fixtures', 'tiny-a')));
const repeats = Number(option('repeats', '3'));
let quantized = option('quantized', undefined);
let temp;
let quantizeMs;
if (!quantized) {
  temp = mkdtempSync(join(tmpdir(), 'vlac-int8-startup-'));
  quantized = join(temp, 'int8');
  const { run } = await import(join(dist, 'cli', 'quantize.js'));
  const t0 = performance.now();
  await run([model, quantized, '--json']);
  quantizeMs = performance.now() - t0;
}
quantized = resolve(quantized);

function load(dir, weights) {
  const args = [fileURLToPath(import.meta.url), '--child', dir, weights, '--dist', dist];
  if (threads) args.push('--threads', threads);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`load of ${dir} (${weights}) failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const cases = [
  { name: 'bf16', dir: model, weights: 'bf16' },
  { name: 'int8, quantize on load', dir: model, weights: 'int8' },
  { name: 'int8, pre-quantized folder', dir: quantized, weights: 'int8' },
];
const results = [];
for (const c of cases) {
  load(c.dir, c.weights); // warm the page cache
  const runs = Array.from({ length: repeats }, () => load(c.dir, c.weights));
  const r = { ...c, loadMs: median(runs.map((x) => x.loadMs)), runsMs: runs.map((x) => Math.round(x.loadMs)),
    rssMiB: median(runs.map((x) => x.rssMiB)), weightsBytes: runs[0].weightsBytes, reported: runs[0].weights };
  results.push(r);
  console.log(`${c.name.padEnd(28)} Vlac.load ${r.loadMs.toFixed(0).padStart(7)} ms (runs ${r.runsMs.join(', ')})` +
    `  RSS ${r.rssMiB.toFixed(0)} MiB  weights ${(r.weightsBytes / 1e6).toFixed(1)} MB (${r.reported})`);
}
const [, fly, pre] = results;
console.log(`pre-quantized / quantize-on-load load time: ${(pre.loadMs / fly.loadMs).toFixed(2)}` +
  (quantizeMs !== undefined ? `; vlac quantize of ${model}: ${(quantizeMs / 1000).toFixed(1)} s` : ''));
const json = option('json', undefined);
if (json) writeFileSync(json, JSON.stringify({ model, quantized: temp ? null : quantized, quantizeMs, results }, null, 2) + '\n');
if (temp) rmSync(temp, { recursive: true, force: true });
