// Images (api.md §2): any ImageInput -> raw 8-bit RGB (decoded by sharp), then the native
// Pillow-exact preprocessing (native/engine/image) -> uint8 tiles + normalised fp32 pixels.
//
// Decoding follows the official path (vlac-behavior.md §13, toolchain.md "sharp vs Pillow"): the
// first frame; no EXIF rotation; alpha dropped, not composited; gray replicated; CMYK converted
// with Pillow's plain formula (natively, from sharp's CMYK samples), not through ICC; 16-bit
// scaled to 8 bits (Pillow would clip at 255: a documented deviation).
import sharp, { type Sharp } from 'sharp';
import { VlacError, badArgument, callNative } from './errors.js';
import { loadNative } from './native.js';

/** Raw interleaved sRGB pixels: 1 (gray), 3 (RGB) or 4 (RGBA, alpha dropped) channels. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** A file path, encoded file bytes, raw pixels, or a sharp instance (its first frame). */
export type ImageInput = string | Uint8Array | RawImage | Sharp;

/** Decoded pixels: width x height x 3 interleaved RGB. */
export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface PreprocessOptions {
  /** 'vlac' (default): LANCZOS squash to one 448x448 tile, as VLAC does. 'internvl': InternVL's
   * dynamic tiling (BICUBIC, aspect-ratio grid of up to maxTiles tiles plus a thumbnail). */
  resize?: 'vlac' | 'internvl';
  /** InternVL grid limit, 1..40 (default 12). Ignored by 'vlac'. */
  maxTiles?: number;
}

export interface PreprocessedImage {
  tiles: number;
  /** tiles x 448 x 448 x 3, RGB */
  uint8: Uint8Array;
  /** tiles x 3 x 448 x 448: /255 then ImageNet mean/std in fp32 (the model input is these rounded to bf16) */
  pixels: Float32Array;
}

/** The model's tile side (InternViT's input). */
export const TILE_SIZE = 448;
const MAX_TILES = 40;

interface NativeImages {
  preprocess(
    rgb: Uint8Array, width: number, height: number, mode: 'vlac' | 'internvl', maxTiles: number,
    tileSize: number, label: string, pixels?: boolean,
  ): Promise<{ tiles: number; size: number; uint8: Uint8Array; pixels?: Float32Array }>;
  toRgb(data: Uint8Array, width: number, height: number, channels: number, label: string): Uint8Array;
  cmykToRgb(cmyk: Uint8Array, width: number, height: number, label: string): Uint8Array;
}

function native(): NativeImages {
  return loadNative() as unknown as NativeImages;
}

function labelOf(index: number): string {
  return `image ${index}`;
}

function isSharp(input: unknown): input is Sharp {
  // Duck-typed as well, so that a sharp instance from the caller's own copy of sharp is accepted.
  if (input instanceof sharp) return true;
  const s = input as Partial<Sharp> | null;
  return typeof s === 'object' && s !== null && typeof s.clone === 'function' &&
    typeof s.metadata === 'function' && typeof s.toBuffer === 'function';
}

function isRawImage(input: unknown): input is RawImage {
  return typeof input === 'object' && input !== null && !(input instanceof Uint8Array) && 'data' in input;
}

function badImage(label: string, message: string, cause?: unknown): VlacError {
  return new VlacError('ERR_VLAC_BAD_IMAGE', `${label}: ${message}`, cause === undefined ? undefined : { cause });
}

function checkRawImage(raw: RawImage, label: string): void {
  if (!(raw.data instanceof Uint8Array)) throw badImage(label, 'raw image data must be a Uint8Array');
  for (const key of ['width', 'height', 'channels'] as const) {
    const v = raw[key];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw badImage(label, `raw image ${key} must be an integer`);
  }
}

/** One sharp pipeline's first frame -> RGB. `open` makes a fresh pipeline on the same input. */
async function decodeWithSharp(open: () => Sharp, label: string): Promise<RgbImage> {
  try {
    const meta = await open().metadata();
    if (meta.space === 'cmyk') {
      // sharp's own CMYK -> sRGB goes through ICC and differs from Pillow; take the CMYK samples
      // (ink amounts, as Pillow holds them) and apply Pillow's formula natively.
      const { data, info } = await open()
        .pipelineColourspace('cmyk').toColourspace('cmyk').raw()
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 4) throw badImage(label, `CMYK image decoded to ${info.channels} channels`);
      return { rgb: callNative(() => native().cmykToRgb(data, info.width, info.height, label)), width: info.width, height: info.height };
    }
    const { data, info } = await open().removeAlpha().toColourspace('srgb').raw()
      .toBuffer({ resolveWithObject: true });
    const rgb = info.channels === 3 ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : callNative(() => native().toRgb(data, info.width, info.height, info.channels, label));
    return { rgb, width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof VlacError) throw err;
    throw badImage(label, `cannot decode: ${(err as Error).message}`, err);
  }
}

/** Decodes any ImageInput to 8-bit RGB. Failures are ERR_VLAC_BAD_IMAGE naming `image <index>`. */
export async function decodeImage(input: ImageInput, index = 0): Promise<RgbImage> {
  const label = labelOf(index);
  if (typeof input === 'string') {
    if (input.length === 0) throw badImage(label, 'the path is empty');
    return decodeWithSharp(() => sharp(input, { pages: 1 }), `${label} (${input})`);
  }
  if (input instanceof Uint8Array) {
    if (input.byteLength === 0) throw badImage(label, 'the encoded bytes are empty');
    return decodeWithSharp(() => sharp(input, { pages: 1 }), label);
  }
  if (isSharp(input)) return decodeWithSharp(() => input.clone(), label);
  if (isRawImage(input)) {
    checkRawImage(input, label);
    const { data, width, height, channels } = input;
    // RGB already: preprocess checks its size and copies it, so no converted copy is made here
    const rgb = channels === 3 ? data : callNative(() => native().toRgb(data, width, height, channels, label));
    return { rgb, width, height };
  }
  throw badImage(label, 'expected a file path, encoded bytes, { data, width, height, channels } or a sharp instance');
}

function checkOptions(options: PreprocessOptions): { mode: 'vlac' | 'internvl'; maxTiles: number } {
  if (typeof options !== 'object' || options === null) throw badArgument('preprocess options must be an object');
  const mode = options.resize ?? 'vlac';
  if (mode !== 'vlac' && mode !== 'internvl') throw badArgument(`resize must be 'vlac' or 'internvl', got ${String(mode)}`);
  const maxTiles = options.maxTiles ?? 12;
  if (!Number.isInteger(maxTiles) || maxTiles < 1 || maxTiles > MAX_TILES) {
    throw badArgument(`maxTiles must be an integer from 1 to ${MAX_TILES}, got ${String(maxTiles)}`);
  }
  return { mode, maxTiles };
}

/** Decodes and preprocesses one image into model tiles (api.md §2 `vlac.preprocess`). */
export async function preprocessImage(input: ImageInput, options: PreprocessOptions = {}, index = 0): Promise<PreprocessedImage> {
  const { mode, maxTiles } = checkOptions(options);
  const { rgb, width, height } = await decodeImage(input, index);
  try {
    const out = await native().preprocess(rgb, width, height, mode, maxTiles, TILE_SIZE, labelOf(index));
    return { tiles: out.tiles, uint8: out.uint8, pixels: out.pixels as Float32Array };
  } catch (err) {
    throw VlacError.from(err);
  }
}

/** The uint8 tiles of one image, what the model calls take: the fp32 pixels are not made. */
export async function preprocessTiles(input: ImageInput, options: PreprocessOptions = {}, index = 0): Promise<{ tiles: number; uint8: Uint8Array }> {
  const { mode, maxTiles } = checkOptions(options);
  const { rgb, width, height } = await decodeImage(input, index);
  try {
    const out = await native().preprocess(rgb, width, height, mode, maxTiles, TILE_SIZE, labelOf(index), false);
    return { tiles: out.tiles, uint8: out.uint8 };
  } catch (err) {
    throw VlacError.from(err);
  }
}
