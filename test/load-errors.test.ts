// Vlac.load on a copy of tiny-a corrupted in many ways: each gives its own VlacError code and a
// message naming the file, never a crash (api.md §7).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Vlac, VlacError } from '../src/index.js';
import { tinyA } from './support/fixtures.js';

const scratch: string[] = [];
afterEach(() => {
  for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
});

function copyOfTinyA(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vlac-load-'));
  scratch.push(dir);
  for (const f of readdirSync(tinyA)) if (statSync(join(tinyA, f)).isFile()) copyFileSync(join(tinyA, f), join(dir, f));
  return dir;
}

function editHeader(dir: string, edit: (h: Record<string, any>) => void): void {
  const path = join(dir, 'model.safetensors');
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, bytes.subarray(8 + n)]));
}

function editJson(dir: string, file: string, edit: (j: any) => void): void {
  const j = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  edit(j);
  writeFileSync(join(dir, file), JSON.stringify(j));
}

const W = 'language_model.model.layers.0.attention.wo.weight';

const cases: [string, string, (dir: string) => void][] = [
  ['a truncated weights file', 'ERR_VLAC_BAD_WEIGHTS', (d) => truncateSync(join(d, 'model.safetensors'), 1_000_000)],
  ['a header length past the end of the file', 'ERR_VLAC_BAD_WEIGHTS', (d) => {
    const b = readFileSync(join(d, 'model.safetensors'));
    b.writeBigUInt64LE(BigInt(b.length), 0);
    writeFileSync(join(d, 'model.safetensors'), b);
  }],
  ['a header that is not JSON', 'ERR_VLAC_BAD_WEIGHTS', (d) => {
    const b = readFileSync(join(d, 'model.safetensors'));
    b[8] = 0x23;
    writeFileSync(join(d, 'model.safetensors'), b);
  }],
  ['an unknown dtype', 'ERR_VLAC_BAD_WEIGHTS', (d) => editHeader(d, (h) => { h[W].dtype = 'BF17'; })],
  ['shape x dtype not matching the span', 'ERR_VLAC_BAD_WEIGHTS', (d) => editHeader(d, (h) => { h[W].shape = [64, 65]; })],
  ['overlapping spans', 'ERR_VLAC_BAD_WEIGHTS', (d) => editHeader(d, (h) => {
    const b = h['language_model.model.layers.1.attention.wo.weight'].data_offsets[0];
    h[W].data_offsets = [b, b + 64 * 64 * 2];
  })],
  ['a missing tensor', 'ERR_VLAC_MISSING_TENSOR', (d) => editHeader(d, (h) => { h['x.weight'] = h[W]; delete h[W]; })],
  ['a tensor of the wrong shape', 'ERR_VLAC_TENSOR_SHAPE', (d) => editHeader(d, (h) => {
    h['language_model.model.layers.0.feed_forward.w1.weight'].shape = [64, 128];
  })],
  ['a missing tokenizer.model', 'ERR_VLAC_NOT_FOUND', (d) => rmSync(join(d, 'tokenizer.model'))],
  ['a corrupt tokenizer.model', 'ERR_VLAC_BAD_TOKENIZER', (d) => {
    const b = readFileSync(join(d, 'tokenizer.model'));
    writeFileSync(join(d, 'tokenizer.model'), b.subarray(0, 1000));
  }],
  ['a tokenizer_config.json that is not JSON', 'ERR_VLAC_BAD_TOKENIZER', (d) => writeFileSync(join(d, 'tokenizer_config.json'), '{"added'),],
  ['a bad config value', 'ERR_VLAC_BAD_CONFIG', (d) => editJson(d, 'config.json', (c) => { c.llm_config.num_key_value_heads = 3; })],
  ['a config.json that is not JSON', 'ERR_VLAC_BAD_CONFIG', (d) => writeFileSync(join(d, 'config.json'), 'not json')],
  ['a missing config.json', 'ERR_VLAC_NOT_FOUND', (d) => rmSync(join(d, 'config.json'))],
  ['a directory where the weights file should be', 'ERR_VLAC_NOT_FOUND', (d) => {
    rmSync(join(d, 'model.safetensors'));
    mkdirSync(join(d, 'model.safetensors'));
  }],
  ['a directory where tokenizer.model should be', 'ERR_VLAC_NOT_FOUND', (d) => {
    rmSync(join(d, 'tokenizer.model'));
    mkdirSync(join(d, 'tokenizer.model'));
  }],
  ['an index naming a missing shard', 'ERR_VLAC_NOT_FOUND', (d) => {
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { [W]: 'model-00001-of-00002.safetensors' } }));
  }],
  ['a config vocab_size that disagrees with the embedding tensors', 'ERR_VLAC_TENSOR_SHAPE', (d) => editJson(d, 'config.json', (c) => { c.llm_config.vocab_size = 1000; })],
];

describe('Vlac.load on a corrupted checkpoint', () => {
  it.each(cases)('%s gives %s naming the file', async (_what, code, corrupt) => {
    const dir = copyOfTinyA();
    corrupt(dir);
    const err = await Vlac.load(dir, { device: 'cpu' }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(VlacError);
    expect((err as VlacError).code).toBe(code);
    expect((err as VlacError).message).toContain(dir);
  });

  it('a folder that does not exist is ERR_VLAC_NOT_FOUND', async () => {
    await expect(Vlac.load('/nonexistent/vlac-model')).rejects.toMatchObject({ code: 'ERR_VLAC_NOT_FOUND' });
  });

  it('bad load options are ERR_VLAC_BAD_ARGUMENT naming the option', async () => {
    await expect(Vlac.load(tinyA, { device: 'gpu' as never })).rejects.toMatchObject({ code: 'ERR_VLAC_BAD_ARGUMENT', message: expect.stringContaining('device') });
    await expect(Vlac.load(tinyA, { maxContext: -1 })).rejects.toMatchObject({ code: 'ERR_VLAC_BAD_ARGUMENT', message: expect.stringContaining('maxContext') });
    await expect(Vlac.load(tinyA, { threads: 1.5 })).rejects.toMatchObject({ code: 'ERR_VLAC_BAD_ARGUMENT', message: expect.stringContaining('threads') });
  });

  it('tiny-a itself loads, and info describes it', async () => {
    const vlac = await Vlac.load(tinyA, { device: 'cpu' });
    expect(vlac.info.backend).toBe('cpu');
    expect(vlac.info.model).toMatchObject({ llmLayers: 2, hidden: 64, vocab: 92553, imageTokens: 256, storedDtype: 'bf16' });
    expect(vlac.info.unusedTensors).toEqual([]);
    expect(vlac.info.cpuFeatures.length).toBeGreaterThan(0);
    await vlac.dispose();
    await vlac.dispose(); // a second dispose is a no-op
    expect(() => vlac.createSequence()).toThrow(expect.objectContaining({ code: 'ERR_VLAC_DISPOSED' }));
  });
});
