// `vlac bench` on tiny-a: every scenario runs and the report has the documented shape
// (native/engine/bench/benchmark.h). Timings are not asserted: benchmarks are not timed tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, tinyA } from './support/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'vlac-bench-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SCENARIOS = ['vit-tile', 'prefill:64', 'decode:64', 'pair', 'pair-ref:1', 'done', 'trajectory:2', 'stream', 'stream-ref:1'];

describe('vlac bench', () => {
  it('runs every scenario on tiny-a and writes a report of the documented shape, a stage chart and a histogram', async () => {
    const out = join(work, 'report');
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'bench', '--model', tinyA,
      '--scenario', SCENARIOS.join(','), '--iterations', '2', '--warmup', '0', '--decode-tokens', '2', '--out', out, '--json'],
    { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
    expect(report.engine).toBe('vlac-engine');
    expect(report.peaks.fp32_fma_gflops).toBeGreaterThan(0);
    expect(report.peaks.memory_gbs).toBeGreaterThan(0);
    expect(Object.keys(report.scenarios).sort()).toEqual([...SCENARIOS].sort());
    for (const [name, s] of Object.entries<Record<string, any>>(report.scenarios)) {
      for (const k of ['p50_ms', 'p90_ms', 'p99_ms', 'max_ms', 'mean_ms', 'flop', 'bytes', 'gflops', 'gbs', 'floor_ms', 'ratio_to_floor']) {
        expect(Number.isFinite(s[k]), `${name}.${k}`).toBe(true);
      }
      expect(s.samples_ms).toHaveLength(2);
      expect(s.p50_ms).toBeLessThanOrEqual(s.max_ms);
      expect(Object.keys(s.stages_ms).sort()).toEqual(['decode', 'encode', 'prefill']);
    }
    for (const f of ['stages.png', 'histogram.png']) {
      const m = await sharp(join(out, f)).metadata();
      expect(m.format).toBe('png');
    }
  });

  it('an unknown scenario is ERR_VLAC_BAD_ARGUMENT', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'bench', '--model', tinyA, '--scenario', 'warp'],
      { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ERR_VLAC_BAD_ARGUMENT');
  });
});
