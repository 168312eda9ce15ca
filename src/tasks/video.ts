// Video input ({ video, fps }) through the ffmpeg command-line tools. The official path
// (vlac-behavior.md §7.1, Q14) re-encodes the video at 448x448 (INTER_LINEAR) keeping every
// trunc(f0/f)-th frame, then decodes every frame; here the same frames are taken straight from the
// source and scaled bilinearly to 448x448, without the lossy mp4v round trip (so pixels differ
// slightly from the official run; bit parity on video is not a goal, Q14).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { badArgument, VlacError } from '../errors.js';

export interface RawFrame { data: Uint8Array; width: number; height: number; channels: 3 }

const SIZE = 448;

function run(cmd: string, args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout) => (err ? reject(err) : resolve({ stdout })));
  });
}

async function haveTool(cmd: string): Promise<boolean> {
  try {
    await run(cmd, ['-version']);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EACCES';
  }
}

function parseRate(r: string | undefined): number {
  if (!r) return NaN;
  const [n, d] = r.split('/').map(Number) as [number, number | undefined];
  return d === undefined ? n : d === 0 ? NaN : n / d;
}

/** The official sampling interval: f = min(f0, fps), k = trunc(f0 / f) when f < f0, else 1. */
export function frameInterval(sourceFps: number, fps: number): number {
  const f = sourceFps < fps ? sourceFps : fps;
  return f < sourceFps ? Math.trunc(sourceFps / f) : 1;
}

/** Decodes every k-th frame of a video file to 448x448 RGB. `name` names the argument in errors. */
export async function framesFromVideo(path: string, fps: number, name: string, signal?: AbortSignal): Promise<RawFrame[]> {
  if (!(await haveTool('ffmpeg')) || !(await haveTool('ffprobe'))) {
    throw badArgument(`${name}: video input needs ffmpeg and ffprobe on PATH, and they were not found (install ffmpeg, or pass the frames as images)`);
  }
  if (!existsSync(path)) throw new VlacError('ERR_VLAC_BAD_IMAGE', `${name}: video file not found: ${path}`);
  let probe: { streams?: { r_frame_rate?: string; avg_frame_rate?: string }[] };
  try {
    const { stdout } = await run('ffprobe', [
      '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=r_frame_rate,avg_frame_rate', '-of', 'json', path,
    ]);
    probe = JSON.parse(stdout);
  } catch (err) {
    throw new VlacError('ERR_VLAC_BAD_IMAGE', `${name}: ${path} is not a readable video`, { cause: err });
  }
  const stream = probe.streams?.[0];
  if (!stream) throw new VlacError('ERR_VLAC_BAD_IMAGE', `${name}: ${path} has no video stream`);
  let sourceFps = parseRate(stream.avg_frame_rate);
  if (!(sourceFps > 0)) sourceFps = parseRate(stream.r_frame_rate);
  if (!(sourceFps > 0)) throw new VlacError('ERR_VLAC_BAD_IMAGE', `${name}: ${path} reports no frame rate`);
  const k = frameInterval(sourceFps, fps);

  const frameBytes = SIZE * SIZE * 3;
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', [
      '-v', 'error', '-i', path, '-map', '0:v:0',
      '-vf', `select=not(mod(n\\,${k})),scale=${SIZE}:${SIZE}:flags=bilinear`,
      '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
    ], { signal });
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('error', (err) => {
      if ((err as Error).name === 'AbortError') reject(new VlacError('ERR_VLAC_ABORTED', `${name}: video decoding aborted`));
      else reject(new VlacError('ERR_VLAC_BAD_IMAGE', `${name}: ffmpeg failed on ${path}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new VlacError('ERR_VLAC_BAD_IMAGE', `${name}: ffmpeg could not decode ${path}: ${stderr.trim() || `exit ${code}`}`));
    });
  });
  const all = Buffer.concat(chunks);
  const frames: RawFrame[] = [];
  for (let off = 0; off + frameBytes <= all.length; off += frameBytes) {
    frames.push({ data: new Uint8Array(all.subarray(off, off + frameBytes)), width: SIZE, height: SIZE, channels: 3 });
  }
  if (frames.length === 0) throw new VlacError('ERR_VLAC_BAD_IMAGE', `${name}: ${path} holds no decodable frame`);
  return frames;
}
