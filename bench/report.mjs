#!/usr/bin/env node
// Combines one bench/run-cpu.sh run (engine-fp32.json, engine-bf16.json, pytorch-bf16.json,
// pytorch-fp32.json) into a markdown report: each scenario's engine latency in both precisions, the
// achieved rate and its share of the HIGHEST peak measured in the run (the engine's fp32 FMA and
// bf16 dot microbenchmarks, torch's bf16 and fp32 matmul), the speed-up over PyTorch, and the
// last-position logits cosine between engine and PyTorch that shows both did the same work.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/report.mjs OUT_DIR');
  process.exit(2);
}
const read = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), 'utf8')) : undefined);
const floats = (f) => {
  if (!existsSync(join(dir, f))) return undefined;
  const b = readFileSync(join(dir, f));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const cosine = (a, b) => {
  if (!a || !b || a.length !== b.length) return undefined;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; ++i) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
};
const engine = { fp32: read('engine-fp32.json'), bf16: read('engine-bf16.json') };
const torch = { bf16: read('pytorch-bf16.json'), fp32: read('pytorch-fp32.json') };
const f = (v, d = 2) => (v === undefined || v === null || Number.isNaN(v) ? '-' : Number(v).toFixed(d));

// Each kind's highest measurement in the run: both engine runs measure the engine's peaks and
// torch's (in a subprocess), the baseline runs torch's again.
const runs = [engine.fp32, engine.bf16].filter(Boolean);
const highest = (...values) => Math.max(0, ...values.filter((v) => typeof v === 'number'));
const peaks = {
  'engine fp32 FMA': highest(...runs.map((r) => r.peaks.fp32_fma_gflops)),
  'engine bf16 dot': highest(...runs.map((r) => r.peaks.bf16_dot_gflops)),
  'torch bf16 matmul': highest(torch.bf16?.peaks?.torch_bf16_matmul_peak_gflops, torch.fp32?.peaks?.torch_bf16_matmul_peak_gflops,
    ...runs.map((r) => r.peaks.torch?.bf16_matmul_gflops)),
  'torch fp32 matmul': highest(torch.fp32?.peaks?.torch_fp32_matmul_peak_gflops, ...runs.map((r) => r.peaks.torch?.fp32_matmul_gflops)),
};
const peak = Math.max(...Object.values(peaks));
const files = { 'prefill:700': 'prefill-700', pair: 'pair' };

const lines = [
  `# CPU benchmark (${engine.fp32.threads} threads; ${engine.fp32.cpu_features.join(' ')})`,
  '',
  `Peaks measured in this run (GFLOP/s): ${Object.entries(peaks).map(([k, v]) => `${k} ${f(v, 1)}`).join(', ')}; ` +
    `ratios below use the highest, ${f(peak, 1)}. Memory read ${f(highest(...runs.map((r) => r.peaks.memory_gbs)), 1)} GB/s.`,
  '',
  '| scenario | precision | engine p50 s | GFLOP/s | % of peak | GB/s | PyTorch bf16 s | speed-up vs bf16 | PyTorch fp32 s | speed-up vs fp32 | logits cosine vs PyTorch bf16 / fp32 |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const name of Object.keys(engine.fp32.scenarios)) {
  const tb = torch.bf16?.scenarios?.[name], tf = torch.fp32?.scenarios?.[name];
  for (const precision of ['fp32', 'bf16']) {
    const e = engine[precision]?.scenarios?.[name];
    if (!e) continue;
    const s = e.p50_ms / 1000;
    const logits = files[name] && floats(join(`engine-${precision}`, `engine-${files[name]}.f32`));
    const cos = (dtype) => files[name] && cosine(logits, floats(`pytorch-${dtype}.${files[name]}.${dtype}.logits.f32`));
    lines.push(`| ${name} | ${precision} | ${f(s, 3)} | ${f(e.gflops, 1)} | ${f((100 * e.gflops) / peak, 1)} | ${f(e.gbs, 1)} | ` +
      `${f(tb?.median_s, 3)} | ${tb ? f(tb.median_s / s, 2) + 'x' : '-'} | ${f(tf?.median_s, 3)} | ${tf ? f(tf.median_s / s, 2) + 'x' : '-'} | ` +
      `${f(cos('bf16'), 6)} / ${f(cos('fp32'), 6)} |`);
  }
}
lines.push('', 'precision: the engine\'s load option (fp32: fp32 activations, the official goldens\' numerics; bf16: activations rounded to bf16 into the ViT, projector and prefill GEMMs, as PyTorch bf16 does; decode reads fp32 in both).',
  'decode: per generated token at a context of ~700; GB/s counts the bf16 weights and the fp32 KV cache read per token.',
  'pair: two 448 tiles through the ViT in one batch, the 655-token prompt, a 3-token reply (2 decode steps).');
console.log(lines.join('\n'));
