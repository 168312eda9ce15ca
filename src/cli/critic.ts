import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { COMMON_FLAGS, MODEL_FLAGS, intFlag, numFlag, parse, requireFlag, strFlag, type CommandSpec } from './args.js';
import { valueCurveSvg, svgToPng } from './chart.js';
import { loadModel, print, jsonReplacer } from './load.js';
import { Progress } from './progress.js';
import { writeAnnotatedVideo } from './video-out.js';
import { framesFromVideo } from '../tasks/video.js';
import type { ImageInput } from '../images.js';
import { VlacError } from '../errors.js';

export const spec: CommandSpec = {
  name: 'critic',
  summary: 'trajectory critic: pair critic over a video or frame folder, accumulated into a value curve',
  usage: 'vlac critic --model DIR --task T (--video F | --frames DIR) [--reference F|DIR] [--out DIR]',
  flags: {
    ...MODEL_FLAGS,
    task: { type: 'string', arg: 'T', help: 'the task' },
    video: { type: 'string', arg: 'F', help: 'a video file (frames taken at --fps with ffmpeg)' },
    frames: { type: 'string', arg: 'DIR', help: 'a folder of frames, in file-name order' },
    fps: { type: 'string', arg: 'N', help: 'frames per second taken from --video (default 5)' },
    reference: { type: 'string', arg: 'F|DIR', help: 'a reference trajectory: a video or a frame folder' },
    'ref-num': { type: 'string', arg: 'N', help: 'reference frames in each prompt (default 6)' },
    skip: { type: 'string', arg: 'N', help: 'frames between the two images of a pair (default 5)' },
    'batch-size': { type: 'string', arg: 'N', help: 'pairs per batched model call (default 10)' },
    think: { type: 'boolean', help: 'reasoned replies' },
    rich: { type: 'boolean', help: 'decimal critics from the top-10 logprobs' },
    reverse: { type: 'boolean', help: 'evaluate the trajectory backwards' },
    done: { type: 'boolean', help: 'also judge done at each value frame' },
    threshold: { type: 'string', arg: 'X', help: 'done threshold (default 0.9)' },
    'value-mode': { type: 'string', arg: 'M', help: 'simple | ratio | mix_f (default simple)' },
    out: { type: 'string', arg: 'DIR', help: 'write result.json, value.svg and value.png here' },
    'video-out': { type: 'string', arg: 'F', help: 'write the trajectory as an MP4 with the value curve drawn on it (needs ffmpeg)' },
    ...COMMON_FLAGS,
  },
  examples: [
    'vlac critic --model /models/VLAC --task "Scoop the rice into the rice cooker." --frames ./episode --out ./report',
    'vlac critic --model /models/VLAC --task "Open the drawer." --video run.mp4 --reference demo.mp4 --skip 5',
  ],
};

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif']);

export function framesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `frame folder ${dir} cannot be read`);
  }
  const files = names.filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (files.length === 0) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `frame folder ${dir} holds no images`);
  return files.map((f) => join(dir, f));
}

function frameSource(path: string, fps?: number): string[] | { video: string; fps?: number } {
  return IMAGE_EXT.has(extname(path).toLowerCase()) || !/\.(mp4|mov|avi|mkv|webm)$/i.test(path)
    ? framesIn(path) : { video: path, ...(fps ? { fps } : {}) };
}

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const model = requireFlag(p, 'model', spec);
  const task = requireFlag(p, 'task', spec);
  const video = strFlag(p, 'video'), frames = strFlag(p, 'frames');
  if (!video === !frames) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac critic: give exactly one of --video and --frames');
  const fps = numFlag(p, 'fps');
  const reference = strFlag(p, 'reference');
  const vlac = await loadModel(p, model);
  const progress = new Progress('critic');
  try {
    const frameList: ImageInput[] = frames ? framesIn(frames) : await framesFromVideo(video!, fps ?? 5, '--video');
    const skip = intFlag(p, 'skip', 5)!;
    const r = await vlac.trajectoryCritic({
      task,
      frames: frameList,
      ...(reference ? { reference: frameSource(reference) } : {}),
      ...(intFlag(p, 'ref-num') !== undefined ? { refNum: intFlag(p, 'ref-num') } : {}),
      skip,
      ...(intFlag(p, 'batch-size') !== undefined ? { batchSize: intFlag(p, 'batch-size') } : {}),
      ...(intFlag(p, 'max-tokens') !== undefined ? { maxTokens: intFlag(p, 'max-tokens') } : {}),
      think: p.values.think === true, rich: p.values.rich === true, reverse: p.values.reverse === true,
      ...(p.values.done ? { done: { threshold: numFlag(p, 'threshold', 0.9)! } } : {}),
      ...(strFlag(p, 'value-mode') ? { valueMode: strFlag(p, 'value-mode') as 'simple' } : {}),
      onProgress: (done: number, total: number) => progress.update(done, total),
    } as Parameters<typeof vlac.trajectoryCritic>[0]);
    progress.finish();
    const out = strFlag(p, 'out');
    if (out) {
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'result.json'), JSON.stringify(r, jsonReplacer, 2));
      const svg = valueCurveSvg(r.value, r.critic, task);
      writeFileSync(join(out, 'value.svg'), svg);
      writeFileSync(join(out, 'value.png'), await svgToPng(svg));
    }
    const videoOut = strFlag(p, 'video-out');
    if (videoOut) {
      // The value entries belong to frames 0, skip, 2 skip, ... (frameSkip, the default).
      const valueFrames = r.value.map((_, k) => Math.min(k * skip, frameList.length - 1));
      await writeAnnotatedVideo(videoOut, frameList, r.value, r.critic, valueFrames, Math.max(1, Math.round((fps ?? 5) / skip)));
    }
    print(p, r, () => [
      `pairs:  ${r.pairs.length} (${r.critic.filter((c) => c === null).length} unparsable)`,
      `critic: ${r.critic.map((c) => c ?? '?').join(' ')}`,
      `value:  ${r.value.map((v) => v.toFixed(1)).join(' ')}`,
      ...(r.done ? [`done:   ${r.done.map((d) => (d ? 'Y' : '.')).join('')}`] : []),
      ...(out ? [`wrote ${join(out, 'result.json')}, value.svg, value.png`] : []),
      ...(videoOut ? [`wrote ${videoOut}`] : []),
    ].join('\n'));
  } finally {
    await vlac.dispose();
  }
}
