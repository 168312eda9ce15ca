// `vlac bench` on tiny-a: every scenario runs, the report validates against docs/bench-schema.json
// (single runs and --compare), the stages add up, a missing torch is reported as such, and the
// charts are PNGs. Timings are not asserted: benchmarks are not timed tests.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, tinyA } from './support/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'vlac-bench-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SCENARIOS = ['vit-tile', 'prefill:64', 'decode:64', 'pair', 'pair-ref:1', 'done', 'trajectory:2', 'stream', 'stream-ref:1'];
const IMAGE_SCENARIOS = ['pair', 'pair-ref:1', 'done', 'trajectory:2', 'stream', 'stream-ref:1'];

const schema = JSON.parse(readFileSync(join(repoRoot, 'docs', 'bench-schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);
const schemaErrors = (report: unknown) => (validate(report) ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`));

function bench(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'bench', '--model', tinyA, ...args],
    { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
}

type Scenario = Record<string, any>;

// The native stages add up to the mean; the front end's two add up to end_to_end_mean_ms.
function expectStagesAddUp(name: string, s: Scenario): void {
  const st = s.stages_ms;
  const native = ['resize', 'encode', 'prefill', 'decode', 'other'].reduce((a, k) => a + (st[k] ?? 0), 0);
  expect(native, `${name}: native stages`).toBeCloseTo(s.mean_ms, 9);
  if (IMAGE_SCENARIOS.includes(name)) {
    expect(st.image_decode, `${name}.image_decode`).toBeGreaterThan(0);
    expect(st.parse, `${name}.parse`).toBeGreaterThanOrEqual(0);
    expect(s.end_to_end_mean_ms).toBeCloseTo(s.mean_ms + st.image_decode + st.parse, 9);
  } else {
    expect(st.image_decode, `${name}.image_decode`).toBeNull();
    expect(st.parse, `${name}.parse`).toBeNull();
  }
}

describe('vlac bench', () => {
  it('runs every scenario on tiny-a; the report validates against the schema; no python means torch absent', async () => {
    const out = join(work, 'report');
    const r = bench(['--scenario', SCENARIOS.join(','), '--iterations', '2', '--warmup', '0', '--decode-tokens', '2', '--tick-ms', '0',
      '--out', out], { VLAC_BENCH_PYTHON: '/nonexistent/python3' });
    expect(r.status, r.stderr).toBe(0);
    // the table: one row per scenario, in the order given
    const rows = r.stdout.split('\n').filter((l) => SCENARIOS.some((s) => l.startsWith(`${s} `)));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(SCENARIOS);
    const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
    expect(schemaErrors(report)).toEqual([]);
    expect(report.peaks.torch.status).toBe('absent');
    expect(report.peaks.torch.tried[0].python).toBe('/nonexistent/python3');
    // without torch: the higher of the engine's own fp32 FMA and bf16 dot peaks
    const bf16Higher = (report.peaks.bf16_dot_gflops ?? 0) > report.peaks.fp32_fma_gflops;
    expect(report.peaks.compute).toEqual(bf16Higher ? { gflops: report.peaks.bf16_dot_gflops, source: 'engine_bf16_dot' }
      : { gflops: report.peaks.fp32_fma_gflops, source: 'engine_fp32_fma' });
    expect(report.versions.torch).toBeNull();
    expect(report.versions.node).toBe(process.versions.node);
    expect(report.settings.scenarios).toEqual(SCENARIOS);
    expect(Object.keys(report.scenarios).sort()).toEqual([...SCENARIOS].sort());
    for (const [name, s] of Object.entries<Scenario>(report.scenarios)) {
      expect(s.samples_ms).toHaveLength(2);
      expect(s.p50_ms).toBeLessThanOrEqual(s.max_ms);
      expect(s.peak_rss_bytes).toBeGreaterThan(0);
      expectStagesAddUp(name, s);
    }
    expect(report.scenarios.pair.stages_ms.resize).toBeGreaterThan(0);
    expect(report.scenarios['vit-tile'].stages_ms.resize).toBeNull();
    for (const f of ['stages.png', 'histogram.png']) {
      const m = await sharp(join(out, f)).metadata();
      expect(m.format).toBe('png');
    }
  });

  it('--compare of two thread counts runs both interleaved and reports their ratio', () => {
    const out = join(work, 'compare');
    const r = bench(['--compare', 'cpu,bf16,1', 'cpu,bf16,2', '--scenario', 'vit-tile,pair', '--iterations', '2', '--warmup', '0',
      '--no-torch-peak', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
    expect(schemaErrors(report)).toEqual([]);
    expect(report.configurations.map((c: Scenario) => [c.label, c.threads, c.weights])).toEqual([['cpu,bf16,1', 1, 'bf16'], ['cpu,bf16,2', 2, 'bf16']]);
    expect(report.configurations[1].peaks.torch.status).toBe('skipped');
    for (const name of ['vit-tile', 'pair']) {
      const [a, b] = report.configurations.map((c: Scenario) => c.scenarios[name]);
      expect(report.comparison[name].p50_ratio).toBeCloseTo(b.p50_ms / a.p50_ms, 9);
      expect(report.comparison[name].mean_ratio).toBeCloseTo(b.mean_ms / a.mean_ms, 9);
      expectStagesAddUp(name, a);
      expectStagesAddUp(name, b);
    }
    // the table has both configurations and the ratio on the second one's row
    expect(r.stdout).toMatch(/p50 ratio/);
    const ratioRow = r.stdout.split('\n').find((l) => l.trim().startsWith('cpu,bf16,2') && / \d+\.\d{3}\s+\d+\.\d{3}$/.test(l));
    expect(ratioRow, r.stdout).toBeDefined();
  });

  it('--compare cpu,bf16 cpu,int8 loads both weight formats; each is graded on the bytes it holds', () => {
    const out = join(work, 'int8');
    const r = bench(['--compare', 'cpu,bf16,2', 'cpu,int8,2', '--scenario', 'decode:64', '--iterations', '2', '--warmup', '0',
      '--decode-tokens', '2', '--no-torch-peak', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
    expect(schemaErrors(report)).toEqual([]);
    const [bf16, int8] = report.configurations;
    expect([bf16.weights, int8.weights]).toEqual(['bf16', 'int8']);
    expect(int8.model.resident_weight_bytes).toBeLessThan(bf16.model.resident_weight_bytes);
    // decode reads the weights once per token: int8 codes (+ scales) are about half the bf16 bytes
    expect(int8.scenarios['decode:64'].bytes).toBeLessThan(0.7 * bf16.scenarios['decode:64'].bytes);
    // int8 products run vpdpbusd: an int8 configuration is graded against the int8 dot peak where that
    // is the highest; a bf16 one never is
    if (int8.peaks.int8_dot_gops !== null && int8.peaks.int8_dot_gops > bf16.peaks.compute.gflops)
      expect(int8.peaks.compute).toEqual({ gflops: int8.peaks.int8_dot_gops, source: 'engine_int8_dot' });
    expect(bf16.peaks.compute.source).not.toBe('engine_int8_dot');
    expect(report.comparison['decode:64'].p50_ratio).toBeGreaterThan(0);
  });

  it('a device without a backend is ERR_VLAC_CUDA_UNAVAILABLE, a malformed configuration ERR_VLAC_BAD_ARGUMENT', () => {
    const cuda = bench(['--compare', 'cuda:0,bf16', 'cpu,bf16', '--no-torch-peak']);
    expect(cuda.status).toBe(1);
    expect(cuda.stderr).toContain('ERR_VLAC_CUDA_UNAVAILABLE');
    const bad = bench(['--compare', 'cpu,fp8', 'cpu,bf16', '--no-torch-peak']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('ERR_VLAC_BAD_ARGUMENT');
    const one = bench(['--compare', 'cpu,bf16', '--no-torch-peak']);
    expect(one.status).toBe(1);
    expect(one.stderr).toContain('ERR_VLAC_BAD_ARGUMENT');
  });

  it('the schema rejects a report with a figure missing or a stage of the wrong type', () => {
    const report = JSON.parse(readFileSync(join(work, 'report', 'bench.json'), 'utf8'));
    expect(schemaErrors(report)).toEqual([]);
    const noFloor = structuredClone(report);
    delete noFloor.scenarios.pair.floor_ms;
    expect(schemaErrors(noFloor).join('\n')).toMatch(/floor_ms/);
    const badStage = structuredClone(report);
    badStage.scenarios.pair.stages_ms.encode = null;
    expect(schemaErrors(badStage).length).toBeGreaterThan(0);
  });

  // The C++ CLI (machines without Node) writes the same JSON: npm test builds it beside the addon.
  const cli = process.env.VLAC_NATIVE_BINARY ? join(dirname(process.env.VLAC_NATIVE_BINARY), 'vlac_cli') : '';
  it.skipIf(!cli || !existsSync(cli))('vlac_cli bench --compare writes a report of the same schema, its image_decode and parse null', () => {
    const file = join(work, 'cli.json');
    const r = spawnSync(cli, ['bench', '--model', tinyA, '--compare', 'cpu,bf16,1', 'cpu,int8,1', '--scenario', 'pair,decode:64',
      '--iterations', '2', '--warmup', '0', '--decode-tokens', '2', '--no-torch-peak', '--out', file], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/p50 ratio/);
    const report = JSON.parse(readFileSync(file, 'utf8'));
    expect(schemaErrors(report)).toEqual([]);
    expect(report.versions.node).toBeNull();
    for (const c of report.configurations) {
      expect(c.scenarios.pair.stages_ms.image_decode).toBeNull();
      expect(c.scenarios.pair.stages_ms.parse).toBeNull();
      expect(c.scenarios.pair.stages_ms.resize).toBeGreaterThan(0);
    }
  });

  it('an unknown scenario is ERR_VLAC_BAD_ARGUMENT', () => {
    const r = bench(['--scenario', 'warp', '--no-torch-peak']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ERR_VLAC_BAD_ARGUMENT');
  });
});
