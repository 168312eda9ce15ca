// Video input ({ video, fps }) through ffmpeg: the official frame sampling (every trunc(f0/f)-th
// frame, vlac-behavior.md §7.1). The decoding tests need ffmpeg on PATH and are skipped without it;
// the missing-ffmpeg error is in tasks-validation.test.ts.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { frameInterval, framesFromVideo } from '../src/tasks/video.js';
import { scriptedVlac, type ScriptedRequest } from '../src/testing.js';
import { fixtures, tinyA } from './tasks-helpers.js';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;

describe('frame sampling interval', () => {
  it('f = min(f0, fps); k = trunc(f0 / f) when f < f0, else 1', () => {
    expect(frameInterval(24, 5)).toBe(4); // 6 fps actually, labelled 5 (Q14)
    expect(frameInterval(30, 5)).toBe(6);
    expect(frameInterval(10, 5)).toBe(2);
    expect(frameInterval(4, 5)).toBe(1);
    expect(frameInterval(5, 5)).toBe(1);
    expect(frameInterval(29.97, 5)).toBe(5);
  });
});

describe.skipIf(!hasFfmpeg)('video decoding with ffmpeg', () => {
  // The ten synthetic fixture frames as a 10 fps video.
  const dir = mkdtempSync(path.join(tmpdir(), 'vlac-video-'));
  const video = path.join(dir, 'ten.mp4');
  if (hasFfmpeg) {
    execFileSync('ffmpeg', ['-v', 'error', '-framerate', '10', '-i', path.join(fixtures, 'vlac/frames/synthetic-%02d.png'),
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
  }

  it('keeps every 2nd frame of a 10 fps video at fps 5, as 448x448 RGB', async () => {
    const frames = await framesFromVideo(video, 5, 'frames');
    expect(frames).toHaveLength(5);
    for (const f of frames) expect(f).toMatchObject({ width: 448, height: 448, channels: 3 });
    expect(frames[0]!.data.length).toBe(448 * 448 * 3);
    expect(await framesFromVideo(video, 20, 'frames')).toHaveLength(10);
  });

  it('trajectoryCritic takes { video, fps } frames', async () => {
    const requests: ScriptedRequest[] = [];
    const v = await scriptedVlac(tinyA, { reply: (r) => { requests.push(r); return { text: '10' }; } });
    const r = await v.trajectoryCritic({ task: 't', frames: { video, fps: 5 }, skip: 1 });
    expect(r.pairs).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
    expect(requests[0]!.images[0]).toMatchObject({ width: 448, height: 448, channels: 3 });
  });

  it('a missing or unreadable video is ERR_VLAC_BAD_IMAGE naming the argument', async () => {
    await expect(framesFromVideo(path.join(dir, 'none.mp4'), 5, 'frames')).rejects.toMatchObject({ code: 'ERR_VLAC_BAD_IMAGE', message: expect.stringMatching(/^frames: /) });
    await expect(framesFromVideo(path.join(fixtures, 'tiny-a/config.json'), 5, 'reference')).rejects.toMatchObject({ code: 'ERR_VLAC_BAD_IMAGE', message: expect.stringMatching(/^reference: /) });
  });
});
