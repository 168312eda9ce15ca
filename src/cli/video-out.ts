// `vlac critic --video-out F`: the trajectory as an MP4 with the value curve drawn over each frame,
// like the official visualisation (frames rendered by sharp, encoded by the system ffmpeg).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { VlacError } from '../errors.js';
import type { ImageInput } from '../images.js';

const W = 448, H = 448;

function overlaySvg(values: number[], upTo: number, critic: number | null | undefined): string {
  const x = (i: number) => 12 + (i / Math.max(1, values.length - 1)) * (W - 24);
  const lo = Math.min(0, ...values), hi = Math.max(100, ...values);
  const y = (v: number) => H - 12 - ((v - lo) / (hi - lo || 1)) * 110;
  const path = values.slice(0, upTo + 1).map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const label = `frame ${upTo}  value ${values[upTo].toFixed(1)}${critic === undefined ? '' : `  critic ${critic ?? '?'}`}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">` +
    `<rect x="0" y="${H - 134}" width="${W}" height="134" fill="black" opacity="0.45"/>` +
    `<path d="${path}" fill="none" stroke="#ffeb3b" stroke-width="3"/>` +
    `<circle cx="${x(upTo)}" cy="${y(values[upTo])}" r="5" fill="#ffeb3b"/>` +
    `<text x="12" y="${H - 112}" font-size="18" fill="white">${label}</text></svg>`;
}

async function frameImage(frame: ImageInput): Promise<Sharp> {
  if (typeof frame === 'object' && frame !== null && 'data' in frame && 'width' in frame) {
    const f = frame as { data: Uint8Array; width: number; height: number; channels: 1 | 2 | 3 | 4 };
    return sharp(Buffer.from(f.data), { raw: { width: f.width, height: f.height, channels: f.channels } });
  }
  return sharp(frame as string | Buffer);
}

export async function writeAnnotatedVideo(out: string, frames: ImageInput[], values: number[], critic: (number | null)[],
  valueFrames: number[], fps: number): Promise<void> {
  const probe = spawnSync('ffmpeg', ['-version']);
  if (probe.error || probe.status !== 0)
    throw new VlacError('ERR_VLAC_BAD_ARGUMENT', '--video-out needs ffmpeg on PATH (Debian/Ubuntu: apt-get install ffmpeg)');
  const dir = mkdtempSync(join(tmpdir(), 'vlac-video-'));
  try {
    for (let k = 0; k < valueFrames.length; ++k) {
      const img = await frameImage(frames[valueFrames[k]]);
      await img.resize(W, H, { fit: 'fill' }).removeAlpha()
        .composite([{ input: Buffer.from(overlaySvg(values, k, k > 0 ? critic[k - 1] : undefined)) }])
        .png().toFile(join(dir, `${String(k).padStart(5, '0')}.png`));
    }
    const r = spawnSync('ffmpeg', ['-y', '-loglevel', 'error', '-framerate', String(fps), '-i', join(dir, '%05d.png'),
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', out], { encoding: 'utf8' });
    if (r.status !== 0) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', `ffmpeg could not write ${out}: ${r.stderr.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
