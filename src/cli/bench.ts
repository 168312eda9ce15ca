// `vlac bench`: a thin front end over the engine's benchmark (native/engine/bench), which the C++
// CLI runs too; this adds what needs Node: sharp decoding of real frames in the pair scenarios,
// the report table, charts and --compare.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { COMMON_FLAGS, MODEL_FLAGS, intFlag, listFlag, numFlag, parse, strFlag, type CommandSpec } from './args.js';
import { loadModel, print } from './load.js';
import { note } from './progress.js';
import { svgToPng } from './chart.js';
import { VlacError } from '../errors.js';
import { preprocessImage } from '../images.js';
import { randomCheckpointDir } from './random-model.js';

export const spec: CommandSpec = {
  name: 'bench',
  summary: 'latency benchmark: p50/p90/p99 per scenario, stage split, measured peaks and the floor',
  usage: 'vlac bench (--model DIR | --random) [--scenario S]... [--iterations N | --seconds S] [--json] [--out DIR]\n       vlac bench --compare A.json B.json',
  flags: {
    ...MODEL_FLAGS,
    random: { type: 'boolean', help: 'a random-weight checkpoint of the real VLAC-2B shape (made once into a cache folder)' },
    scenario: { type: 'string', multiple: true, arg: 'S', help: 'vit-tile, prefill:N, decode[:CTX], pair, pair-ref:N, stream, stream-ref:N, done, trajectory:B (default pair)' },
    'reply-tokens': { type: 'string', arg: 'N', help: 'reply length of pair/done scenarios (default 3: random weights never stop)' },
    warmup: { type: 'string', arg: 'N', help: 'untimed runs per scenario (default 1)' },
    iterations: { type: 'string', arg: 'N', help: 'timed runs per scenario (default 5)' },
    seconds: { type: 'string', arg: 'S', help: 'time per scenario instead of a run count' },
    'decode-tokens': { type: 'string', arg: 'N', help: 'tokens per decode run (default 16)' },
    'no-cache': { type: 'boolean', help: 'frame and prefix caches off: the uncached baseline' },
    out: { type: 'string', arg: 'DIR', help: 'write bench.json, a per-stage chart and a latency histogram (SVG and PNG)' },
    compare: { type: 'boolean', help: 'compare two reports given as arguments: A.json B.json' },
    ...COMMON_FLAGS,
  },
  examples: [
    'vlac bench --random --scenario pair,decode --iterations 3',
    'vlac bench --model /models/VLAC --scenario vit-tile --scenario prefill:700 --out ./bench-report',
    'vlac bench --compare before/bench.json after/bench.json',
  ],
};

interface ScenarioReport {
  p50_ms: number; p90_ms: number; p99_ms: number; max_ms: number; mean_ms: number; iterations: number; samples_ms?: number[];
  stages_ms: { encode: number; prefill: number; decode: number };
  gflops: number; gbs: number; floor_ms: number; ratio_to_floor: number; peak_fraction: number;
  decode_images_ms?: number;
}
interface Report { peaks: { fp32_fma_gflops: number; memory_gbs: number }; threads: number; scenarios: Record<string, ScenarioReport> }

function table(r: Report): string {
  const rows = [['scenario', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'encode', 'prefill', 'decode', 'GFLOP/s', 'GB/s', 'floor ms', 'x floor']];
  for (const [name, s] of Object.entries(r.scenarios)) {
    rows.push([name, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.stages_ms.encode, s.stages_ms.prefill, s.stages_ms.decode, s.gflops, s.gbs,
      s.floor_ms, s.ratio_to_floor].map((v) => (typeof v === 'number' ? (v >= 100 ? v.toFixed(0) : v.toFixed(2)) : v)));
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
  return [
    `peaks measured in this run: ${r.peaks.fp32_fma_gflops.toFixed(1)} GFLOP/s fp32 FMA, ${r.peaks.memory_gbs.toFixed(1)} GB/s memory (${r.threads} threads)`,
    ...rows.map((row) => row.map((c, i) => String(c).padStart(w[i])).join('  ')),
  ].join('\n');
}

const esc = (t: string) => t.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);

/** Per-stage split of each scenario's mean, as stacked horizontal bars with the floor marked. */
export function stagesSvg(r: Report): string {
  const entries = Object.entries(r.scenarios);
  const W = 900, rowH = 34, L = 160, R = 90, H = 90 + entries.length * rowH;
  const max = Math.max(...entries.map(([, s]) => Math.max(s.mean_ms, s.floor_ms)), 1e-9);
  const x = (v: number) => L + (v / max) * (W - L - R);
  const colors = { encode: '#8e24aa', prefill: '#1e88e5', decode: '#43a047' } as const;
  const rows = entries.map(([name, s], i) => {
    const y = 50 + i * rowH;
    let at = 0;
    const parts = (['encode', 'prefill', 'decode'] as const).map((k) => {
      const v = s.stages_ms[k];
      const rect = `<rect x="${x(at)}" y="${y}" width="${Math.max(0, x(at + v) - x(at))}" height="20" fill="${colors[k]}"/>`;
      at += v;
      return rect;
    }).join('');
    return `<text x="${L - 8}" y="${y + 15}" text-anchor="end" font-size="12">${esc(name)}</text>${parts}` +
      `<line x1="${x(s.floor_ms)}" x2="${x(s.floor_ms)}" y1="${y - 3}" y2="${y + 23}" stroke="#e53935" stroke-width="2" stroke-dasharray="3,2"/>` +
      `<text x="${x(s.mean_ms) + 4}" y="${y + 15}" font-size="11">${s.mean_ms.toFixed(1)} ms</text>`;
  }).join('');
  const axisY = 50 + entries.length * rowH;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<line x1="${x(f * max)}" x2="${x(f * max)}" y1="${axisY}" y2="${axisY + 5}" stroke="#333"/>` +
    `<text x="${x(f * max)}" y="${axisY + 18}" text-anchor="middle" font-size="11">${(f * max).toFixed(f * max >= 100 ? 0 : 1)}</text>`).join('');
  const legend = Object.entries(colors).map(([k, c], i) => `<rect x="${L + i * 110}" y="12" width="12" height="12" fill="${c}"/>` +
    `<text x="${L + i * 110 + 16}" y="22" font-size="12">${k}</text>`).join('') +
    `<line x1="${L + 330}" x2="${L + 350}" y1="18" y2="18" stroke="#e53935" stroke-width="2" stroke-dasharray="3,2"/><text x="${L + 354}" y="22" font-size="12">physical floor</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>` +
    `${legend}${rows}<line x1="${L}" x2="${W - R}" y1="${axisY}" y2="${axisY}" stroke="#333"/>${ticks}` +
    `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle" font-size="12">mean latency per stage (ms)</text></svg>`;
}

/** Latency histogram of every scenario's timed iterations, one panel per scenario. */
export function histogramSvg(r: Report): string {
  const entries = Object.entries(r.scenarios);
  const PW = 420, PH = 200, cols = 2, W = cols * PW, H = Math.ceil(entries.length / cols) * PH + 10;
  const panels = entries.map(([name, s], i) => {
    const ox = (i % cols) * PW, oy = Math.floor(i / cols) * PH;
    const samples = s.samples_ms ?? [s.p50_ms];
    const lo = Math.min(...samples), hi = Math.max(...samples), bins = 12;
    const width = (hi - lo) / bins || 1;
    const counts = new Array(bins).fill(0);
    for (const v of samples) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
    const cmax = Math.max(...counts);
    const L = 45, B = 40, T = 28, iw = PW - L - 15, ih = PH - T - B;
    const bars = counts.map((c, b) => `<rect x="${ox + L + (b * iw) / bins + 1}" y="${oy + T + ih - (c / cmax) * ih}" width="${iw / bins - 2}" height="${(c / cmax) * ih}" fill="#1e88e5"/>`).join('');
    return `<text x="${ox + PW / 2}" y="${oy + 18}" text-anchor="middle" font-size="13">${esc(name)} (${samples.length} runs)</text>${bars}` +
      `<line x1="${ox + L}" x2="${ox + L + iw}" y1="${oy + T + ih}" y2="${oy + T + ih}" stroke="#333"/>` +
      `<line x1="${ox + L}" x2="${ox + L}" y1="${oy + T}" y2="${oy + T + ih}" stroke="#333"/>` +
      `<text x="${ox + L}" y="${oy + T + ih + 14}" font-size="11">${lo.toFixed(1)}</text>` +
      `<text x="${ox + L + iw}" y="${oy + T + ih + 14}" text-anchor="end" font-size="11">${(lo + width * bins).toFixed(1)}</text>` +
      `<text x="${ox + L + iw / 2}" y="${oy + T + ih + 30}" text-anchor="middle" font-size="11">latency (ms)</text>` +
      `<text x="${ox + L - 6}" y="${oy + T + 8}" text-anchor="end" font-size="11">${cmax}</text>` +
      `<text x="${ox + 12}" y="${oy + T + ih / 2}" font-size="11" transform="rotate(-90 ${ox + 12} ${oy + T + ih / 2})" text-anchor="middle">runs</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${panels}</svg>`;
}

// Decoding and preprocessing two real frames, which the native pair scenario leaves out: Node's part.
async function decodeImagesMs(iterations: number): Promise<number> {
  const frames = await Promise.all([0, 1].map((k) => sharp({
    create: { width: 640, height: 480, channels: 3, background: { r: 40 * k, g: 120, b: 200 } },
  }).jpeg().toBuffer()));
  const times: number[] = [];
  for (let i = 0; i < Math.max(1, iterations); ++i) {
    const t0 = performance.now();
    await Promise.all(frames.map((f, k) => preprocessImage(f, {}, k)));
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  if (p.values.compare) {
    if (p.positionals.length !== 2) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac bench --compare: give two report files A.json B.json');
    const [a, b] = p.positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Report);
    const lines = ['scenario              A p50 ms    B p50 ms    B/A'];
    for (const name of Object.keys(a.scenarios)) {
      const sb = b.scenarios[name];
      if (!sb) continue;
      const sa = a.scenarios[name];
      lines.push(`${name.padEnd(20)} ${sa.p50_ms.toFixed(2).padStart(10)}  ${sb.p50_ms.toFixed(2).padStart(10)}  ${(sb.p50_ms / sa.p50_ms).toFixed(3).padStart(6)}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  const modelDir = strFlag(p, 'model') ?? (p.values.random ? await randomCheckpointDir('vlac-2b') : undefined);
  if (!modelDir) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac bench: give --model DIR or --random');
  if (p.values.random) note(`vlac bench: ${modelDir} holds RANDOM weights of the VLAC-2B shape: timings only, no meaningful replies`);
  const scenarios = listFlag(p, 'scenario');
  const vlac = await loadModel(p, modelDir);
  try {
    const iterations = intFlag(p, 'iterations', 5)!;
    const report = await vlac.benchmark({
      scenarios: scenarios.length ? scenarios : ['pair'],
      warmup: intFlag(p, 'warmup', 1)!, iterations,
      ...(p.values['no-cache'] ? { noCache: true } : {}),
      ...(numFlag(p, 'seconds') !== undefined ? { seconds: numFlag(p, 'seconds') } : {}),
      ...(intFlag(p, 'reply-tokens') !== undefined ? { replyTokens: intFlag(p, 'reply-tokens') } : {}),
      ...(intFlag(p, 'decode-tokens') !== undefined ? { decodeTokens: intFlag(p, 'decode-tokens') } : {}),
    }) as unknown as Report;
    for (const [name, s] of Object.entries(report.scenarios)) {
      if (name.startsWith('pair') || name === 'done') s.decode_images_ms = await decodeImagesMs(iterations);
    }
    const out = strFlag(p, 'out');
    if (out) {
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'bench.json'), JSON.stringify(report, null, 2));
      for (const [file, svg] of [['stages', stagesSvg(report)], ['histogram', histogramSvg(report)]] as const) {
        writeFileSync(join(out, `${file}.svg`), svg);
        writeFileSync(join(out, `${file}.png`), await svgToPng(svg));
      }
    }
    print(p, report, () => table(report) + (out ? `\nwrote ${join(out, 'bench.json')}, stages.svg/png, histogram.svg/png` : ''));
  } finally {
    await vlac.dispose();
  }
}
