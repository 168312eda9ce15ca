#!/usr/bin/env node
// Combines one bench/run-cpu.sh run (engine.json, pytorch-bf16.json, pytorch-fp32.json) into a
// markdown report: each scenario's engine latency, achieved rate and its share of the HIGHER of
// the two peaks measured in the run (the engine's fp32 FMA microbenchmark, torch's bf16 matmul),
// the speed-up over PyTorch in both precisions, and the logits cosine that shows both did the same work.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/report.mjs OUT_DIR');
  process.exit(2);
}
const read = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), 'utf8')) : undefined);
const engine = read('engine.json');
const torch = { bf16: read('pytorch-bf16.json'), fp32: read('pytorch-fp32.json') };
const torchPeak = Math.max(torch.bf16?.peaks?.torch_bf16_matmul_peak_gflops ?? 0, torch.fp32?.peaks?.torch_bf16_matmul_peak_gflops ?? 0);
const enginePeak = engine.peaks.fp32_fma_gflops;
const peak = Math.max(torchPeak, enginePeak);
const f = (v, d = 2) => (v === undefined || v === null || Number.isNaN(v) ? '-' : Number(v).toFixed(d));

const lines = [
  `# CPU benchmark (${engine.threads} threads; ${engine.cpu_features.join(' ')})`,
  '',
  `Peaks measured in this run: engine fp32 FMA ${f(enginePeak, 1)} GFLOP/s, torch bf16 matmul ${f(torchPeak, 1)} GFLOP/s ` +
    `(ratios below use the higher, ${f(peak, 1)}); memory read ${f(engine.peaks.memory_gbs, 1)} GB/s.`,
  '',
  '| scenario | engine p50 s | GFLOP/s | % of peak | GB/s | PyTorch bf16 s | speed-up | PyTorch fp32 s | speed-up | cosine (bf16 / fp32) |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
for (const [name, e] of Object.entries(engine.scenarios)) {
  const tb = torch.bf16?.scenarios?.[name], tf = torch.fp32?.scenarios?.[name];
  const s = e.p50_ms / 1000;
  lines.push(`| ${name} | ${f(s, 3)} | ${f(e.gflops, 1)} | ${f((100 * e.gflops) / peak, 1)} | ${f(e.gbs, 1)} | ` +
    `${f(tb?.median_s, 3)} | ${tb ? f(tb.median_s / s, 2) + 'x' : '-'} | ${f(tf?.median_s, 3)} | ${tf ? f(tf.median_s / s, 2) + 'x' : '-'} | ` +
    `${f(tb?.cosine_vs_engine, 6)} / ${f(tf?.cosine_vs_engine, 6)} |`);
}
lines.push('', 'decode: per generated token at a context of ~700; GB/s counts the bf16 weights and the fp32 KV cache read per token.',
  'pair: two 448 tiles through the ViT in one batch, the 655-token prompt, a 3-token reply (2 decode steps).');
console.log(lines.join('\n'));
