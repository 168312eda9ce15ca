#!/usr/bin/env node
// Latency of the streaming critic as a control loop sees it (issue 17): criticStream pushes through
// the public API (image decoding, N-API, the pipelined background prefill included), one new frame
// per push, for --seconds, then p50/p99/max and a latency histogram (SVG and PNG, src/cli/chart.ts);
// and trajectoryCritic's throughput in pairs/s at several batch sizes.
//
//   node scripts/stream-latency.mjs [--model ../shared/fixtures/tiny-a] [--seconds 600] [--ref N]
//        [--tick-ms T] [--threads N] [--batches 1,4,8,16] [--out DIR] [--dist DIR]
//
// Paced: each push is made --tick-ms after the previous one was made (a control tick), so the
// background prefill a push leaves runs while the loop waits; a push whose tick comes before that
// work is done waits for it. Default tick: twice the median of 20 back-to-back warm-up pushes.
// --ref N uses N reference frames (and frame 0), as criticStream({ reference, refNum: N }).
// Frames are synthetic 448x448 RGB images, a new one per push (each goes through the ViT once).
// Runs on the compiled package (dist/, `npm run build:ts`; --dist names another build of it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const dist = resolve(option('dist', join(root, 'dist')));
const { Vlac } = await import(join(dist, 'index.js'));
const { histogramSvg, svgToPng } = await import(join(dist, 'cli', 'chart.js'));

const modelDir = resolve(option('model', join(root, '..', 'shared', 'fixtures', 'tiny-a')));
const seconds = Number(option('seconds', '600'));
const refNum = Number(option('ref', '0'));
const threads = option('threads', undefined);
const batches = option('batches', '1,4,8,16').split(',').filter(Boolean).map(Number);
const out = option('out', undefined);
const task = 'Scoop the rice into the rice cooker.';

// A deterministic, textured frame per index: every frame differs, so each is a frame-cache miss.
function frame(k) {
  const size = 448, data = new Uint8Array(size * size * 3);
  let x = (k + 1) * 2654435761 >>> 0;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    data[i] = ((i / 3) % size) * 255 / size / 2 + (x >>> 25);
  }
  return { data, width: size, height: size, channels: 3 };
}

function percentile(sorted, p) {
  const pos = p * (sorted.length - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { pushes: s.length, p50_ms: percentile(s, 0.5), p90_ms: percentile(s, 0.9), p99_ms: percentile(s, 0.99), max_ms: s[s.length - 1],
    mean_ms: s.reduce((a, b) => a + b, 0) / s.length };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

const vlac = await Vlac.load(modelDir, { device: 'cpu', maxContext: 4096, ...(threads ? { threads: Number(threads) } : {}) });
try {
  const reference = refNum > 0 ? Array.from({ length: refNum }, (_, i) => frame(1_000_000 + i)) : undefined;
  const streamOptions = { task, maxTokens: 3, ...(reference ? { reference, refNum } : {}) };
  let next = 0;

  // Warm-up, back to back: the tick default and the first (cold) pushes out of the figures.
  const warm = vlac.criticStream(streamOptions);
  const warmSamples = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    await warm.push(frame(next++));
    if (i > 0) warmSamples.push(performance.now() - t0);
  }
  warm.close();
  const backToBack = summary(warmSamples);
  const tick = Number(option('tick-ms', String(Math.ceil(2 * backToBack.p50_ms))));

  const stream = vlac.criticStream(streamOptions);
  await stream.push(frame(next++));  // frame 0: no pair; its background prefill starts the episode
  const samples = [];
  const started = performance.now();
  let made = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await sleep(made + tick - performance.now());
    made = performance.now();
    await stream.push(frame(next++));
    samples.push(performance.now() - made);
  }
  stream.close();
  const paced = summary(samples);

  // trajectoryCritic: 17 frames, skip 1 (16 pairs), no reference, at each batch size.
  const frames = Array.from({ length: 17 }, (_, i) => frame(2_000_000 + i));
  const throughput = {};
  for (const b of batches) {
    await vlac.trajectoryCritic({ task, frames: frames.slice(0, 3), skip: 1, batchSize: b, maxTokens: 3 });
    const t0 = performance.now();
    const r = await vlac.trajectoryCritic({ task, frames, skip: 1, batchSize: b, maxTokens: 3 });
    throughput[b] = r.pairs.length / ((performance.now() - t0) / 1000);
  }

  const report = {
    model: modelDir, threads: vlac.info.threads, refNum, seconds, tick_ms: tick, warmup_back_to_back: backToBack, paced,
    p99_over_p50: paced.p99_ms / paced.p50_ms, trajectory_pairs_per_s: throughput, samples_ms: samples,
  };
  const print = { ...report };
  delete print.samples_ms;
  console.log(JSON.stringify(print, null, 2));
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'stream-latency.json'), JSON.stringify(report, null, 2));
    const name = `criticStream push, tick ${tick} ms${refNum ? `, ${refNum} references` : ""}`;
    const chart = {
      threads: report.threads, versions: { node: process.version, sharp: null, torch: null }, binary: { package_version: null },
      settings: { scenarios: [name] },
      scenarios: { [name]: { iterations: samples.length, ...paced, samples_ms: samples, stages_ms: {}, floor_ms: 0 } },
    };
    const svg = histogramSvg(chart);
    writeFileSync(join(out, 'stream-latency.svg'), svg);
    writeFileSync(join(out, 'stream-latency.png'), await svgToPng(svg));
    console.log(`wrote ${join(out, 'stream-latency.json')}, stream-latency.svg/png`);
  }
} finally {
  await vlac.dispose();
}
