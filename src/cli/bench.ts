// `vlac bench`: a thin front end over the engine's benchmark (native/engine/bench), which the C++
// CLI runs too and which writes the same JSON (docs/bench-schema.json). This adds what needs Node:
// sharp decoding of real encoded frames and the reply parse (the image_decode and parse stages),
// the versions of Node and sharp, and the charts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { COMMON_FLAGS, MODEL_FLAGS, intFlag, listFlag, numFlag, parse, strFlag, type CommandSpec, type Parsed } from './args.js';
import { print } from './load.js';
import { note } from './progress.js';
import { histogramSvg, stagesSvg, svgToPng, type BenchReport, type ScenarioFigures } from './chart.js';
import { VlacError } from '../errors.js';
import { loadNative } from '../native.js';
import { parsePlain } from '../tasks/parse.js';
import { VERSION } from '../version.js';
import { Vlac, type BenchmarkConfiguration, type BenchmarkOptions, type LoadOptions } from '../vlac.js';
import { randomCheckpointDir } from './random-model.js';

export const spec: CommandSpec = {
  name: 'bench',
  summary: 'latency benchmark: p50/p90/p99 per scenario, stage split, peak memory, measured peaks (engine and torch) and the floor',
  usage: 'vlac bench (--model DIR | --random) [--scenario S]... [--compare A B] [--iterations N | --seconds S] [--json] [--out DIR]',
  flags: {
    ...MODEL_FLAGS,
    random: { type: 'boolean', help: 'a random-weight checkpoint of the real VLAC-2B shape (made once into a cache folder)' },
    scenario: { type: 'string', multiple: true, arg: 'S', help: 'vit-tile, prefill:N, decode[:CTX], pair, pair-ref:N, stream, stream-ref:N, done, trajectory:B, concurrent:N (default pair)' },
    compare: { type: 'string', arg: 'A B', help: 'two configurations device,weights[,threads] run interleaved, with their ratio B/A per scenario' },
    'reply-tokens': { type: 'string', arg: 'N', help: 'reply length of pair/done scenarios (default 3: random weights never stop)' },
    warmup: { type: 'string', arg: 'N', help: 'untimed runs per scenario and configuration (default 1)' },
    iterations: { type: 'string', arg: 'N', help: 'timed runs per scenario and configuration (default 5)' },
    seconds: { type: 'string', arg: 'S', help: 'time per scenario instead of a run count' },
    'decode-tokens': { type: 'string', arg: 'N', help: 'tokens per decode run (default 16)' },
    'tick-ms': { type: 'string', arg: 'T', help: 'stream, stream-ref:N: pushes paced T ms apart (a control tick)' },
    'no-cache': { type: 'boolean', help: 'frame and prefix caches off: the uncached baseline' },
    'no-torch-peak': { type: 'boolean', help: 'skip the torch peaks (python3 with torch; VLAC_BENCH_PYTHON names the interpreter)' },
    out: { type: 'string', arg: 'DIR', help: 'write bench.json, a per-stage chart and a latency histogram (SVG and PNG)' },
    ...COMMON_FLAGS,
  },
  examples: [
    'vlac bench --random --scenario pair,decode --iterations 3',
    'vlac bench --model /models/VLAC --scenario vit-tile --scenario prefill:700 --out ./bench-report',
    'vlac bench --random --compare cpu,bf16,2 cpu,int8,2 --scenario vit-tile,prefill:700,decode,pair --out ./cmp',
    'vlac bench --random --compare cpu,bf16,1 cpu,bf16,2 --scenario pair --seconds 30',
  ],
};

interface Configuration {
  label: string;
  device: string;
  weights: 'bf16' | 'int8';
  threads?: number;
}

/** "device,weights[,threads]" as the native parse_bench_config reads it (bench/benchmark.h). */
export function parseConfiguration(text: string): Configuration {
  const parts = text.split(',');
  const form = `configuration '${text}': `;
  if (parts.length < 2 || parts.length > 3) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `${form}write it device,weights[,threads], e.g. cpu,bf16,2 or cpu,int8`);
  const [device, weights, threads] = parts;
  if (/^cuda(:\d+)?$/.test(device)) {
    throw new VlacError('ERR_VLAC_CUDA_UNAVAILABLE', `${form}device '${device}' was asked for, but this build of vlac-engine has no CUDA backend`);
  }
  if (device !== 'cpu') throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `${form}device must be cpu, cuda or cuda:N, got '${device}'`);
  if (weights !== 'bf16' && weights !== 'int8') throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `${form}weights must be bf16 or int8, got '${weights}'`);
  if (threads !== undefined && !/^[1-9]\d{0,3}$/.test(threads)) {
    throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `${form}threads must be an integer >= 1, got '${threads}'`);
  }
  return { label: text, device, weights, ...(threads !== undefined ? { threads: Number(threads) } : {}) };
}

// Frames one call of a scenario decodes: the images of its prompts (as the native core resizes
// them), one new frame per push for the streams.
function framesPerCall(scenario: string): number {
  const [name, arg] = scenario.split(':');
  const n = arg === undefined ? undefined : Number(arg);
  if (name === 'pair') return 2;
  if (name === 'pair-ref') return 2 + (n ?? 6) + 1;
  if (name === 'done') return 1;
  if (name === 'trajectory') return 2 * (n ?? 10);
  if (name === 'concurrent') return 2 * (n ?? 8);
  if (name === 'stream' || name === 'stream-ref') return 1;
  return 0;
}

// Replies one call parses.
function repliesPerCall(scenario: string): number {
  const [name, arg] = scenario.split(':');
  if (name === 'trajectory') return arg === undefined ? 10 : Number(arg);
  if (name === 'concurrent') return arg === undefined ? 8 : Number(arg);
  return ['pair', 'pair-ref', 'done', 'stream', 'stream-ref'].includes(name) ? 1 : 0;
}

// Two real encoded camera frames (VGA, as the native core's resize uses): a PNG and a JPEG.
async function encodedFrames(): Promise<Buffer[]> {
  const w = 640, h = 480;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; ++i) raw[i] = ((i / 3) % w) * 255 / w / 2 + ((i * 2654435761) >>> 25);
  const img = () => sharp(raw, { raw: { width: w, height: h, channels: 3 } });
  return [await img().png().toBuffer(), await img().jpeg({ quality: 90 }).toBuffer()];
}

/**
 * The front end's stages of each image scenario, measured here around the native run with the same
 * iteration count: sharp decoding the scenario's frames to RGB (the native core resizes them) and
 * the reply parse. Added to stages_ms; end_to_end_mean_ms is mean_ms plus both.
 */
async function addFrontEndStages(scenarios: Record<string, ScenarioFigures>, iterations: number): Promise<void> {
  const frames = await encodedFrames();
  for (const [name, s] of Object.entries(scenarios)) {
    const nFrames = framesPerCall(name), nReplies = repliesPerCall(name);
    if (nFrames === 0) continue;
    let decode = 0, parseMs = 0;
    for (let i = 0; i < iterations; ++i) {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: nFrames }, (_, k) => sharp(frames[k % frames.length]).removeAlpha().raw().toBuffer()));
      decode += performance.now() - t0;
      const t1 = performance.now();
      for (let r = 0; r < nReplies; ++r) parsePlain(`${-12.5 + i + r}`);
      parseMs += performance.now() - t1;
    }
    s.stages_ms.image_decode = decode / iterations;
    s.stages_ms.parse = parseMs / iterations;
    s.end_to_end_mean_ms = s.mean_ms + s.stages_ms.image_decode + s.stages_ms.parse;
  }
}

async function load(p: Parsed, dir: string, weights?: 'bf16' | 'int8', threads?: number): Promise<Vlac> {
  const opts: LoadOptions = {};
  const device = strFlag(p, 'device');
  if (device) opts.device = device as LoadOptions['device'];
  const w = weights ?? strFlag(p, 'weights');
  if (w) opts.weights = w as LoadOptions['weights'];
  const precision = strFlag(p, 'precision');
  if (precision) opts.precision = precision as LoadOptions['precision'];
  const t = threads ?? intFlag(p, 'threads');
  if (t !== undefined) opts.threads = t;
  return Vlac.load(dir, opts);
}

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const compareA = strFlag(p, 'compare');
  let configurations: Configuration[] | undefined;
  if (compareA !== undefined) {
    if (p.positionals.length !== 1) {
      throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac bench --compare A B: give two configurations device,weights[,threads], e.g. --compare cpu,bf16,2 cpu,int8,2');
    }
    if (strFlag(p, 'weights') !== undefined || strFlag(p, 'threads') !== undefined || strFlag(p, 'device') !== undefined) {
      throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac bench --compare A B: each configuration gives its device, weights and threads; drop --device/--weights/--threads');
    }
    configurations = [parseConfiguration(compareA), parseConfiguration(p.positionals[0])];
  } else if (p.positionals.length) {
    throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `vlac bench: unexpected argument '${p.positionals[0]}' (see vlac bench --help)`);
  }
  const modelDir = strFlag(p, 'model') ?? (p.values.random ? await randomCheckpointDir('vlac-2b') : undefined);
  if (!modelDir) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac bench: give --model DIR or --random');
  if (p.values.random) note(`vlac bench: ${modelDir} holds RANDOM weights of the VLAC-2B shape: timings only, no meaningful replies`);
  const scenarios = listFlag(p, 'scenario');
  const iterations = intFlag(p, 'iterations', 5)!;
  const seconds = numFlag(p, 'seconds');
  const tickMs = numFlag(p, 'tick-ms');
  const options: BenchmarkOptions = {
    scenarios: scenarios.length ? scenarios : ['pair'],
    warmup: intFlag(p, 'warmup', 1)!, iterations,
    ...(p.values['no-cache'] ? { noCache: true } : {}),
    ...(p.values['no-torch-peak'] ? { torchPeak: false } : {}),
    ...(process.env.VLAC_BENCH_PYTHON ? { pythons: [process.env.VLAC_BENCH_PYTHON] } : {}),
    ...(seconds !== undefined ? { seconds } : {}),
    ...(tickMs !== undefined ? { tickMs } : {}),
    ...(intFlag(p, 'reply-tokens') !== undefined ? { replyTokens: intFlag(p, 'reply-tokens') } : {}),
    ...(intFlag(p, 'decode-tokens') !== undefined ? { decodeTokens: intFlag(p, 'decode-tokens') } : {}),
  };
  // One model per weights format: configurations that differ only in threads share it.
  const models = new Map<string, Vlac>();
  try {
    let report: BenchReport;
    if (configurations) {
      const list: BenchmarkConfiguration[] = [];
      for (const c of configurations) {
        if (!models.has(c.weights)) models.set(c.weights, await load(p, modelDir, c.weights, c.threads));
        list.push({ label: c.label, vlac: models.get(c.weights)!, ...(c.threads !== undefined ? { threads: c.threads } : {}) });
      }
      report = await list[0].vlac.benchmark(options, list) as unknown as BenchReport;
    } else {
      models.set('', await load(p, modelDir));
      report = await models.get('')!.benchmark(options) as unknown as BenchReport;
    }
    report.versions.node = process.versions.node;
    report.versions.sharp = (sharp.versions as { sharp?: string }).sharp ?? null;
    report.binary.package_version = VERSION;
    for (const c of report.configurations ?? [report]) {
      await addFrontEndStages(c.scenarios!, Math.max(1, ...Object.values(c.scenarios!).map((s) => s.iterations)));
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
    const formatTable = (loadNative() as unknown as { formatBenchTable(report: string): string }).formatBenchTable;
    print(p, report, () => formatTable(JSON.stringify(report)) +
      (out ? `wrote ${join(out, 'bench.json')}, stages.svg/png, histogram.svg/png` : ''));
  } finally {
    for (const v of models.values()) await v.dispose();
  }
}
