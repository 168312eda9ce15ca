// The `vlac` command end to end, as a user runs it (the compiled dist/cli/main.js).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { fixture, repoRoot, tinyA } from './support/fixtures.js';

const cli = join(repoRoot, 'dist', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'vlac-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function vlac(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8', env: { ...process.env, VLAC_CACHE_DIR: join(work, 'cache') }, timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const frames = fixture('images/test');
const TASK = 'Scoop the rice into the rice cooker.';

describe('vlac command line', () => {
  it('prints its commands, and --help with examples for every command', () => {
    const top = vlac('--help');
    expect(top.code).toBe(0);
    for (const cmd of ['demo', 'critic', 'pair', 'done', 'action', 'describe', 'chat', 'info', 'bench']) {
      expect(top.stdout).toContain(cmd);
      const h = vlac(cmd, '--help');
      expect(h.code).toBe(0);
      expect(h.stdout).toContain('Examples:');
    }
  });

  it('rejects an unknown flag with the code and the command named', () => {
    const r = vlac('pair', '--nope');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_VLAC_BAD_ARGUMENT');
  });

  it('critic writes result.json, an SVG and a real PNG chart', async () => {
    const out = join(work, 'critic');
    const r = vlac('critic', '--model', tinyA, '--task', TASK, '--frames', frames, '--skip', '5', '--max-tokens', '3', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(result.pairs.length).toBeGreaterThan(0);
    expect(result.value.length).toBe(result.critic.length + 1);
    expect(readFileSync(join(out, 'value.svg'), 'utf8')).toContain('<svg');
    const png = await sharp(join(out, 'value.png')).metadata();
    expect(png.format).toBe('png');
    expect(png.width).toBe(800);
  });

  it('pair, done, describe, action and chat run on tiny-a with --json', () => {
    const a = join(frames, '595-6-565-0.jpg'), b = join(frames, '595-44-565-0.jpg');
    const runs = [
      vlac('pair', '--model', tinyA, '--task', TASK, a, b, '--max-tokens', '3', '--json'),
      vlac('done', '--model', tinyA, '--task', TASK, b, '--max-tokens', '3', '--json'),
      vlac('describe', '--model', tinyA, a, b, '--max-tokens', '3', '--json'),
      vlac('action', '--model', tinyA, '--task', TASK, a, '--state', '1,2,3,4,5,6,7', '--max-tokens', '3', '--json'),
      vlac('chat', '--model', tinyA, '--image', a, 'What is on the table?', '--max-tokens', '3', '--json'),
    ];
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.ids).toHaveLength(3);
      expect(typeof j.text).toBe('string');
    }
  });

  it('demo builds its own random checkpoint and tokenizer once, says so, and prints timings', () => {
    const out = join(work, 'demo');
    const r = vlac('demo', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('RANDOM weights');
    expect(r.stdout).toMatch(/pair: .* ms/);
    expect(existsSync(join(out, 'value.png'))).toBe(true);
    expect(existsSync(join(work, 'cache'))).toBe(true);
    const again = vlac('demo', '--out', out);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('generating');
  });

  const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
  it.skipIf(!hasFfmpeg)('critic --video reads a video made from the fixture frames and --video-out writes an annotated MP4', () => {
    const video = join(work, 'trajectory.mp4');
    const made = spawnSync('ffmpeg', ['-y', '-loglevel', 'error', '-framerate', '2', '-pattern_type', 'glob', '-i', join(frames, '*-0.jpg'),
      '-vf', 'scale=320:240', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
    expect(made.status).toBe(0);
    const out = join(work, 'video');
    const r = vlac('critic', '--model', tinyA, '--task', TASK, '--video', video, '--fps', '2', '--skip', '1', '--max-tokens', '3',
      '--out', out, '--video-out', join(out, 'annotated.mp4'), '--json');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.pairs).toHaveLength(5); // 6 frames at the source's 2 fps
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames',
      '-of', 'csv=p=0', join(out, 'annotated.mp4')], { encoding: 'utf8' });
    expect(Number(probe.stdout.trim())).toBe(6);
  });

  it('info reports the binary and CPU features', () => {
    const r = vlac('info', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.binary).toMatch(/\.node$/);
    expect(j.cpuFeatures.length).toBeGreaterThan(0);
  });
});
