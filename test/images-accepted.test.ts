// Odd images that are accepted, and converted as api.md §2 documents (vlac-behavior.md §13): the
// first frame; alpha dropped, not composited; gray replicated; palette looked up (its transparency
// dropped too); CMYK by Pillow's plain formula; 16-bit scaled to 8 bits. Inputs are made here, most
// as 448x448 images, which the 'vlac' resize returns unchanged (as Pillow's resize to the same size
// does), so the tile shows the converted pixels themselves.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { Vlac } from '../src/index.js';
import { fixture, readJson, tinyA } from './support/fixtures.js';

const S = 448;

// A minimal PNG writer, so that colour type, bit depth, palette and tRNS are exactly what a test says.
function png(o: { width: number; height: number; colorType: 0 | 2 | 3 | 4 | 6; bitDepth: 8 | 16; pixels: Uint8Array;
  palette?: number[][]; transparency?: number[] }): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[o.colorType];
  const rowBytes = o.width * channels * (o.bitDepth / 8);
  expect(o.pixels.length).toBe(rowBytes * o.height);
  const raw = Buffer.alloc((rowBytes + 1) * o.height);
  for (let y = 0; y < o.height; y++) Buffer.from(o.pixels.buffer, o.pixels.byteOffset + y * rowBytes, rowBytes).copy(raw, y * (rowBytes + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(o.width, 0);
  ihdr.writeUInt32BE(o.height, 4);
  ihdr[8] = o.bitDepth;
  ihdr[9] = o.colorType;
  const parts = [Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr)];
  if (o.palette) parts.push(chunk('PLTE', Buffer.from(o.palette.flat())));
  if (o.transparency) parts.push(chunk('tRNS', Buffer.from(o.transparency)));
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** Pixels of `width x height` with `channels` samples each, from f(x, y) -> samples. */
function pixels(width: number, height: number, channels: number, f: (x: number, y: number) => number[]): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out.set(f(x, y), (y * width + x) * channels);
  return out;
}

function rgbAt(tile: Uint8Array, x: number, y: number, width = S): number[] {
  const i = (y * width + x) * 3;
  return [tile[i]!, tile[i + 1]!, tile[i + 2]!];
}

/** Every pixel of an RGB buffer equals f(x, y). */
function expectPixels(rgb: Uint8Array, width: number, height: number, f: (x: number, y: number) => number[]): void {
  const want = pixels(width, height, 3, f);
  expect(rgb.length).toBe(want.length);
  const firstDiff = rgb.findIndex((v, i) => v !== want[i]);
  if (firstDiff >= 0) {
    const p = Math.floor(firstDiff / 3);
    expect(rgbAt(rgb, p % width, Math.floor(p / width), width), `pixel (${p % width}, ${Math.floor(p / width)})`).toEqual(
      rgbAt(want, p % width, Math.floor(p / width), width));
  }
}

let vlac: Vlac;
beforeAll(async () => {
  vlac = await Vlac.load(tinyA, { device: 'cpu' });
});
afterAll(async () => {
  await vlac?.dispose();
});

describe('accepted odd images give the documented pixels', () => {
  it('1x1: every pixel of the tile is that pixel (vlac and internvl)', async () => {
    const one = png({ width: 1, height: 1, colorType: 2, bitDepth: 8, pixels: new Uint8Array([10, 200, 30]) });
    const p = await vlac.preprocess(one);
    expect(p.tiles).toBe(1);
    expectPixels(p.uint8, S, S, () => [10, 200, 30]);
    const q = await vlac.preprocess(one, { resize: 'internvl' });
    expect(q.tiles).toBe(1); // a 1x1 grid has no thumbnail
    expectPixels(q.uint8, S, S, () => [10, 200, 30]);
  });

  it('20000x10: squashed into one tile (vlac); a 12x1 grid plus thumbnail (internvl)', async () => {
    // left half red-ish, right half blue-ish
    const A = [220, 40, 10];
    const B = [5, 60, 250];
    const wide = await sharp(pixels(20000, 10, 3, (x) => (x < 10000 ? A : B)), { raw: { width: 20000, height: 10, channels: 3 } })
      .png().toBuffer();
    const p = await vlac.preprocess(wide);
    expect(p.tiles).toBe(1);
    // LANCZOS (support 3 output pixels at this scale) changes only the columns next to the edge at 224
    for (let y = 0; y < S; y += 37) {
      for (let x = 0; x < 220; x++) expect(rgbAt(p.uint8, x, y)).toEqual(A);
      for (let x = 228; x < S; x++) expect(rgbAt(p.uint8, x, y)).toEqual(B);
    }
    const q = await vlac.preprocess(wide, { resize: 'internvl', maxTiles: 12 });
    // aspect 2000:1: the closest grid with at most 12 tiles is 12x1, then the 448x448 thumbnail
    expect(q.tiles).toBe(13);
    const tile = (k: number) => q.uint8.subarray(k * S * S * 3, (k + 1) * S * S * 3);
    for (let k = 0; k < 5; k++) expectPixels(tile(k), S, S, () => A);
    for (let k = 7; k < 12; k++) expectPixels(tile(k), S, S, () => B);
  });

  it('grayscale (8-bit gray PNG): each gray value replicated into R, G and B', async () => {
    const gray = png({ width: S, height: S, colorType: 0, bitDepth: 8, pixels: pixels(S, S, 1, (x, y) => [(x + 3 * y) & 255]) });
    expectPixels((await vlac.preprocess(gray)).uint8, S, S, (x, y) => { const g = (x + 3 * y) & 255; return [g, g, g]; });
  });

  it('gray + alpha: alpha dropped, gray replicated', async () => {
    const la = png({ width: S, height: S, colorType: 4, bitDepth: 8, pixels: pixels(S, S, 2, (x, y) => [(x * 7) & 255, y & 255]) });
    expectPixels((await vlac.preprocess(la)).uint8, S, S, (x) => { const g = (x * 7) & 255; return [g, g, g]; });
  });

  it('16-bit: scaled to 8 bits by the high byte (0x4D4D -> 77, 0xFFFF -> 255, 1000 -> 3), gray and RGB', async () => {
    // big-endian 16-bit samples; sharp (libvips) keeps the high byte, so 0x80FF is 128, not 129
    const be16 = (values: number[]) => values.flatMap((v) => [v >> 8, v & 255]);
    const known = [[0x4d4d, 77], [0xffff, 255], [0x0000, 0], [0x8080, 128], [0x0101, 1], [0xfefe, 254], [1000, 3], [0x80ff, 128]];
    const g16 = png({ width: S, height: S, colorType: 0, bitDepth: 16, pixels: pixels(S, S, 2, (x) => be16([known[x % known.length]![0]!])) });
    expect((await sharp(g16).metadata()).depth).toBe('ushort');
    expectPixels((await vlac.preprocess(g16)).uint8, S, S, (x) => { const v = known[x % known.length]![1]!; return [v, v, v]; });
    const rgb16 = png({ width: S, height: S, colorType: 2, bitDepth: 16, pixels: pixels(S, S, 6, (x) => be16([0x4d4d, 0xffff, known[x % known.length]![0]!])) });
    expectPixels((await vlac.preprocess(rgb16)).uint8, S, S, (x) => [77, 255, known[x % known.length]![1]!]);
  });

  it('CMYK (TIFF, lossless): Pillow\'s formula on the ink amounts, not an ICC transform', async () => {
    const rgb = pixels(S, S, 3, (x, y) => [x & 255, y & 255, (x * y) & 255]);
    const cmykTiff = await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).toColourspace('cmyk').tiff({ compression: 'lzw' }).toBuffer();
    expect((await sharp(cmykTiff).metadata()).space).toBe('cmyk');
    // the ink amounts as stored, read back independently
    const { data: inks } = await sharp(cmykTiff).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
    // Pillow's CMYK -> RGB (Convert.c cmyk2rgb): 255 - k - MULDIV255(c, 255 - k), for each of C, M, Y
    const muldiv255 = (a: number, b: number) => { const t = a * b + 128; return ((t >> 8) + t) >> 8; };
    const expected = (x: number, y: number) => {
      const i = (y * S + x) * 4;
      const nk = 255 - inks[i + 3]!;
      return [0, 1, 2].map((c) => nk - muldiv255(inks[i + c]!, nk));
    };
    expectPixels((await vlac.preprocess(cmykTiff)).uint8, S, S, expected);
  });

  it('CMYK JPEG fixture: the decoded pixels Pillow gives', async () => {
    const c = readJson<{ cases: { file: string; vlac: { sha256: string } }[] }>('preprocess/cases.json').cases
      .find((x) => x.file.endsWith('cmyk-200x150.jpg'))!;
    const p = await vlac.preprocess(fixture(c.file));
    expect(createHash('sha256').update(p.uint8).digest('hex')).toBe(c.vlac.sha256);
  });

  it('alpha (RGBA): dropped, not composited (fully transparent pixels keep their colour)', async () => {
    const rgba = png({ width: S, height: S, colorType: 6, bitDepth: 8,
      pixels: pixels(S, S, 4, (x, y) => [200, x & 255, y & 255, x < S / 2 ? 0 : 128]) });
    expectPixels((await vlac.preprocess(rgba)).uint8, S, S, (x, y) => [200, x & 255, y & 255]);
    // the same through a raw 4-channel descriptor
    const raw = { data: pixels(S, S, 4, () => [1, 2, 3, 0]), width: S, height: S, channels: 4 as const };
    expectPixels((await vlac.preprocess(raw)).uint8, S, S, () => [1, 2, 3]);
  });

  it('palette with transparency (tRNS): the palette colours, transparency dropped', async () => {
    const palette = [[255, 0, 0], [0, 255, 0], [12, 34, 56], [250, 250, 5]];
    const index = (x: number, y: number) => (x + y) % 4;
    const pal = png({ width: S, height: S, colorType: 3, bitDepth: 8, palette, transparency: [0, 128, 255],
      pixels: pixels(S, S, 1, (x, y) => [index(x, y)]) });
    expect((await sharp(pal).metadata()).isPalette).toBe(true);
    expectPixels((await vlac.preprocess(pal)).uint8, S, S, (x, y) => palette[index(x, y)]!);
  });

  it('animated (GIF and lossless WebP): the first frame only', async () => {
    const frames = [[250, 10, 10], [10, 250, 10], [10, 10, 250]];
    const stacked = pixels(S, S * 3, 3, (_x, y) => frames[Math.floor(y / S)]!);
    for (const format of ['gif', 'webp'] as const) {
      const base = sharp(stacked, { raw: { width: S, height: S * 3, channels: 3, pageHeight: S } });
      const animated = await (format === 'gif' ? base.gif({ delay: [100, 100, 100] }) : base.webp({ lossless: true, delay: [100, 100, 100] })).toBuffer();
      expect((await sharp(animated).metadata()).pages, format).toBe(3);
      // the first frame as its own decoder gives it (GIF's palette may round a colour slightly)
      const { data: first } = await sharp(animated, { page: 0 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const p = await vlac.preprocess(animated);
      expect(p.tiles).toBe(1);
      expect(Buffer.compare(Buffer.from(p.uint8), first), format).toBe(0);
      if (format === 'webp') expectPixels(p.uint8, S, S, () => frames[0]!);
      for (let c = 0; c < 3; c++) expect(Math.abs(p.uint8[c]! - frames[0]![c]!), format).toBeLessThan(8);
    }
  });

  it('the odd fixture inputs give the official VLAC tiles through vlac.preprocess', async () => {
    const all = readJson<{ cases: { file: string; vlac: { sha256: string } }[] }>('preprocess/cases.json').cases;
    const odd = ['rgba-300x200.png', 'la-200x300.png', 'palette-320x240.png', 'gray-123x457.png', 'animated-120x90.gif',
      'bilevel-100x80.png', 'rgb-1x1.png', 'rgb-3000x10.png', 'rgb-37x1200.png'];
    for (const name of odd) {
      const c = all.find((x) => x.file.endsWith(`inputs/${name}`))!;
      const p = await vlac.preprocess(readFileSync(fixture(c.file)));
      expect(createHash('sha256').update(p.uint8).digest('hex'), name).toBe(c.vlac.sha256);
    }
  });
});
