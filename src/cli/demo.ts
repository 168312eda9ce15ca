// `vlac demo`: the whole pipeline on sample frames, with timings. Without --model it runs on a small
// random-weight checkpoint with a tokenizer the project generates itself (made once into a cache
// folder), and says so: its replies are noise, its timings and plumbing are real.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { COMMON_FLAGS, MODEL_FLAGS, intFlag, parse, strFlag, type CommandSpec } from './args.js';
import { valueCurveSvg, svgToPng } from './chart.js';
import { jsonReplacer, loadModel, print } from './load.js';
import { Progress, note } from './progress.js';
import { randomCheckpointDir } from './random-model.js';

export const spec: CommandSpec = {
  name: 'demo',
  summary: 'the whole pipeline on sample frames, with timings (random weights unless --model)',
  usage: 'vlac demo [--model DIR] [--out DIR] [--frames N]',
  flags: {
    ...MODEL_FLAGS,
    frames: { type: 'string', arg: 'N', help: 'sample frames in the trajectory (default 6)' },
    out: { type: 'string', arg: 'DIR', help: 'where to write frames, result.json and the value chart (default ./vlac-demo)' },
    ...COMMON_FLAGS,
  },
  examples: ['npx vlac demo', 'npx vlac demo --model /models/VLAC --out ./demo-report'],
};

const TASK = 'Put the red cup on the green coaster.';

/** A synthetic robot-camera frame: a table, a coaster, a cup that moves toward it as t goes 0 -> 1. */
export async function sampleFrame(t: number): Promise<Buffer> {
  const cx = 120 + t * 360, cy = 300 - Math.sin(t * Math.PI) * 120;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">
    <rect width="640" height="480" fill="#8d6e63"/><rect y="0" width="640" height="150" fill="#cfd8dc"/>
    <ellipse cx="480" cy="330" rx="60" ry="22" fill="#43a047"/>
    <rect x="${cx - 28}" y="${cy - 60}" width="56" height="70" rx="8" fill="#e53935"/>
    <rect x="${cx - 40}" y="${cy - 120}" width="80" height="50" fill="#455a64"/>
    <rect x="${cx - 6}" y="0" width="12" height="${cy - 120}" fill="#607d8b"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
}

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const given = strFlag(p, 'model');
  const modelDir = given ?? (await randomCheckpointDir('demo'));
  if (!given) note('vlac demo: this checkpoint has RANDOM weights and a generated tokenizer: the replies are noise, the pipeline and the timings are real. Use --model DIR for the real VLAC weights.');
  const n = intFlag(p, 'frames', 6)!;
  const out = strFlag(p, 'out') ?? 'vlac-demo';
  mkdirSync(out, { recursive: true });
  const frames = await Promise.all(Array.from({ length: n }, (_, i) => sampleFrame(i / Math.max(1, n - 1))));
  frames.forEach((f, i) => writeFileSync(join(out, `frame-${String(i).padStart(2, '0')}.jpg`), f));
  // Random weights never emit a stop token: pin the reply length unless the weights are real.
  const maxTokens = intFlag(p, 'max-tokens', given ? 1024 : 3)!;

  const t0 = performance.now();
  const vlac = await loadModel(p, modelDir);
  const loadMs = performance.now() - t0;
  try {
    const pair = await vlac.pairCritic({ task: TASK, first: frames[0], second: frames[n - 1], maxTokens });
    const done = await vlac.done({ task: TASK, image: frames[n - 1], maxTokens });
    const progress = new Progress('trajectory critic');
    const traj = await vlac.trajectoryCritic({
      task: TASK, frames, skip: 1, batchSize: 4, maxTokens, onProgress: (d, t) => progress.update(d, t),
    });
    progress.finish();
    const svg = valueCurveSvg(traj.value, traj.critic, `${TASK}${given ? '' : ' (random weights)'}`);
    writeFileSync(join(out, 'value.svg'), svg);
    writeFileSync(join(out, 'value.png'), await svgToPng(svg));
    const result = { model: modelDir, randomWeights: !given, task: TASK, loadMs, info: vlac.info, pair, done, trajectory: traj };
    writeFileSync(join(out, 'result.json'), JSON.stringify(result, jsonReplacer, 2));
    print(p, result, () => [
      `model:      ${modelDir}${given ? '' : '  (RANDOM weights, generated tokenizer)'}`,
      `backend:    ${vlac.info.backend}, ${vlac.info.threads} threads (${vlac.info.cpuFeatures.join(' ')})`,
      `load:       ${loadMs.toFixed(0)} ms`,
      `pair:       critic ${pair.critic ?? 'unparsable'}  reply ${JSON.stringify(pair.text)}  ` +
        `${pair.timing.totalMs.toFixed(0)} ms (images ${fmt(pair.timing.decodeImagesMs)}, ViT ${fmt(pair.timing.encodeMs)}, ` +
        `prefill ${fmt(pair.timing.prefillMs)}, decode ${fmt(pair.timing.decodeMs)})`,
      `done:       ${done.done} (value ${done.value ?? 'unparsable'})  reply ${JSON.stringify(done.text)}`,
      `trajectory: ${traj.pairs.length} pairs in ${traj.timing.totalMs.toFixed(0)} ms; values ${traj.value.map((v) => v.toFixed(1)).join(' ')}`,
      `wrote:      ${join(out, 'result.json')}, value.svg, value.png and the frames`,
    ].join('\n'));
  } finally {
    await vlac.dispose();
  }
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? '-' : `${ms.toFixed(0)} ms`;
}
