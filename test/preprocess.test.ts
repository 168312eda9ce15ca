// Image preprocessing against the official pipeline: for every fixture input the decoded RGB, the
// VLAC tile and InternVL's tiles (max 12 and 6) must be byte-identical to Pillow's
// (shared/fixtures/preprocess/cases.json), plus the input forms and the errors of api.md §2.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { VlacError } from '../src/errors.js';
import { decodeImage, preprocessImage, TILE_SIZE } from '../src/images.js';

const fixtures = process.env.VLAC_FIXTURES ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'fixtures');

interface Case {
  file: string;
  mode: string;
  size: [number, number];
  decoded_rgb_sha256: string;
  vlac: { sha256: string };
  internvl: Record<'12' | '6', { tiles: number; sha256: string[] }>;
}
const cases: Case[] = JSON.parse(readFileSync(join(fixtures, 'preprocess', 'cases.json'), 'utf8')).cases;

// Pillow opens a 16-bit gray PNG as mode I and convert('RGB') clips at 255 (white); the engine
// scales to 8 bits (api.md §2, toolchain.md "sharp vs Pillow"). Its hashes must differ.
const EXPECTED_DIFFERENT = new Set(['preprocess/inputs/gray16-64x48.png']);

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const TILE_BYTES = TILE_SIZE * TILE_SIZE * 3;
const tileHashes = (uint8: Uint8Array, tiles: number) =>
  Array.from({ length: tiles }, (_, k) => sha256(uint8.subarray(k * TILE_BYTES, (k + 1) * TILE_BYTES)));

async function rejection(p: Promise<unknown>): Promise<VlacError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VlacError);
    return err as VlacError;
  }
  throw new Error('expected a rejection');
}

describe('preprocessing is byte-identical to the official Pillow pipeline', () => {
  it('covers all 57 fixture inputs', () => {
    expect(cases).toHaveLength(57);
  });

  for (const c of cases) {
    const path = join(fixtures, c.file);
    const differs = EXPECTED_DIFFERENT.has(c.file);
    describe(`${c.file} (${c.mode} ${c.size.join('x')})`, () => {
      it(differs ? 'decodes differently from Pillow, as documented (16-bit scaled, not clipped)' : 'decodes to the same RGB bytes', async () => {
        const img = await decodeImage(path);
        expect([img.width, img.height]).toEqual(c.size);
        if (differs) expect(sha256(img.rgb)).not.toBe(c.decoded_rgb_sha256);
        else expect(sha256(img.rgb)).toBe(c.decoded_rgb_sha256);
      });

      it(differs ? "gives a different VLAC tile than Pillow's white one" : 'gives the same VLAC tile (LANCZOS to 448x448)', async () => {
        const p = await preprocessImage(path, { resize: 'vlac' });
        expect(p.tiles).toBe(1);
        expect(p.uint8.length).toBe(TILE_BYTES);
        expect(p.pixels.length).toBe(TILE_BYTES);
        if (differs) expect(sha256(p.uint8)).not.toBe(c.vlac.sha256);
        else expect(sha256(p.uint8)).toBe(c.vlac.sha256);
      });

      for (const maxTiles of [12, 6] as const) {
        it(`gives the same InternVL tiles with maxTiles ${maxTiles}`, async () => {
          const expected = c.internvl[String(maxTiles) as '12' | '6'];
          const q = await preprocessImage(path, { resize: 'internvl', maxTiles });
          expect(q.tiles).toBe(expected.tiles);
          expect(q.uint8.length).toBe(expected.tiles * TILE_BYTES);
          if (differs) expect(tileHashes(q.uint8, q.tiles)).not.toEqual(expected.sha256);
          else expect(tileHashes(q.uint8, q.tiles)).toEqual(expected.sha256);
        });
      }
    });
  }
});

describe('preprocess output', () => {
  it('normalises with ToTensor + ImageNet mean/std in fp32, CHW', async () => {
    const path = join(fixtures, 'preprocess', 'inputs', 'rgb-640x480.png');
    const q = await preprocessImage(path, { resize: 'internvl', maxTiles: 6 });
    const mean = [0.485, 0.456, 0.406].map(Math.fround);
    const std = [0.229, 0.224, 0.225].map(Math.fround);
    const plane = TILE_SIZE * TILE_SIZE;
    for (const tile of [0, q.tiles - 1]) {
      for (const pixel of [0, 1, 12345, plane - 1]) {
        for (let c = 0; c < 3; c++) {
          const u8 = q.uint8[tile * TILE_BYTES + pixel * 3 + c];
          const expected = Math.fround(Math.fround(Math.fround(u8 / 255) - mean[c]) / std[c]);
          expect(q.pixels[tile * 3 * plane + c * plane + pixel]).toBe(expected);
        }
      }
    }
  });
});

describe('every ImageInput form gives the same pixels', () => {
  const path = join(fixtures, 'preprocess', 'inputs', 'rgba-300x200.png');
  const expected = cases.find((c) => c.file.endsWith('rgba-300x200.png'))!;

  it('accepts a path, encoded bytes, a sharp instance and raw RGBA pixels', async () => {
    const bytes = readFileSync(path);
    const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    const inputs = [
      path,
      bytes,
      new Uint8Array(bytes),
      sharp(path),
      { data: new Uint8Array(data), width: info.width, height: info.height, channels: 4 as const },
    ];
    for (const input of inputs) {
      const p = await preprocessImage(input);
      expect(sha256(p.uint8)).toBe(expected.vlac.sha256);
    }
  });

  it('replicates raw gray pixels and drops raw alpha', async () => {
    const gray = await decodeImage({ data: new Uint8Array([7, 200]), width: 2, height: 1, channels: 1 });
    expect(Array.from(gray.rgb)).toEqual([7, 7, 7, 200, 200, 200]);
    const rgba = await decodeImage({ data: new Uint8Array([1, 2, 3, 0, 4, 5, 6, 9]), width: 2, height: 1, channels: 4 });
    expect(Array.from(rgba.rgb)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('takes the first frame of an animated GIF', async () => {
    const c = cases.find((x) => x.file.endsWith('animated-120x90.gif'))!;
    const img = await decodeImage(readFileSync(join(fixtures, c.file)));
    expect(sha256(img.rgb)).toBe(c.decoded_rgb_sha256);
  });
});

describe('bad images reject with ERR_VLAC_BAD_IMAGE naming the input', () => {
  const jpeg = readFileSync(join(fixtures, 'preprocess', 'inputs', 'rgb-1920x1080.jpg'));

  it('rejects empty, corrupt and truncated bytes', async () => {
    for (const bytes of [new Uint8Array(0), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), jpeg.subarray(0, 2000)]) {
      const err = await rejection(preprocessImage(bytes, {}, 3));
      expect(err.code).toBe('ERR_VLAC_BAD_IMAGE');
      expect(err.message).toContain('image 3');
    }
  });

  it('rejects a missing file, naming it', async () => {
    const err = await rejection(preprocessImage('/nonexistent/frame.png', {}, 1));
    expect(err.code).toBe('ERR_VLAC_BAD_IMAGE');
    expect(err.message).toContain('image 1');
    expect(err.message).toContain('/nonexistent/frame.png');
  });

  it('rejects raw pixels with a wrong size, zero size or channel count', async () => {
    const bad = [
      { data: new Uint8Array(11), width: 2, height: 2, channels: 3 as const },
      { data: new Uint8Array(0), width: 0, height: 2, channels: 3 as const },
      { data: new Uint8Array(10), width: 2, height: 1, channels: 5 as unknown as 3 },
      { data: new Uint8Array(12), width: 2.5, height: 1, channels: 3 as const },
      { data: new Uint8Array(3), width: 2 ** 31, height: 2 ** 31, channels: 3 as const },
      { data: [1, 2, 3] as unknown as Uint8Array, width: 1, height: 1, channels: 3 as const },
    ];
    for (const raw of bad) {
      const err = await rejection(preprocessImage(raw, {}, 2));
      expect(err.code).toBe('ERR_VLAC_BAD_IMAGE');
      expect(err.message).toContain('image 2');
    }
    const err = await rejection(preprocessImage(42 as unknown as string, {}, 5));
    expect(err.code).toBe('ERR_VLAC_BAD_IMAGE');
    expect(err.message).toContain('image 5');
  });

  it('rejects bad options with ERR_VLAC_BAD_ARGUMENT', async () => {
    const path = join(fixtures, 'preprocess', 'inputs', 'rgb-2x3.png');
    for (const options of [{ resize: 'bilinear' }, { maxTiles: 0 }, { maxTiles: 41 }, { maxTiles: 2.5 }]) {
      const err = await rejection(preprocessImage(path, options as never));
      expect(err.code).toBe('ERR_VLAC_BAD_ARGUMENT');
    }
  });
});
