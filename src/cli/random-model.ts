// Random-weight checkpoints for `vlac demo` and `vlac bench --random`, made once into a cache folder
// by the engine's generator, with a tokenizer the project generates itself.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { VlacError } from '../errors.js';
import { loadNative } from '../native.js';
import { VERSION } from '../version.js';
import { Progress, note } from './progress.js';

export type RandomPreset = 'demo' | 'vlac-2b';

export function cacheRoot(): string {
  return process.env.VLAC_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vlac-engine');
}

interface GenerateAddon {
  writeRandomCheckpoint?: (dir: string, options: object, onProgress?: (done: number, total: number) => void) => Promise<void>;
}

/** The folder of a random checkpoint of `preset`, generating it first if it is not there. */
export async function randomCheckpointDir(preset: RandomPreset): Promise<string> {
  const dir = join(cacheRoot(), `random-${preset}-${VERSION}`);
  if (existsSync(join(dir, 'config.json'))) return dir;
  const addon = loadNative() as unknown as GenerateAddon;
  if (!addon.writeRandomCheckpoint) throw new VlacError('ERR_VLAC_INTERNAL', 'internal error (please report): this binary has no checkpoint generator');
  mkdirSync(cacheRoot(), { recursive: true });
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  note(`vlac: generating a ${preset} checkpoint with RANDOM weights into ${dir} (once)`);
  const progress = new Progress(`random ${preset}`);
  try {
    await addon.writeRandomCheckpoint(tmp, { preset, ...(preset === 'vlac-2b' ? { shards: 4 } : {}) },
      (done, total) => progress.update(Math.round(done / 2 ** 20), Math.round(total / 2 ** 20)));
    progress.finish();
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw VlacError.from(err);
  }
  return dir;
}
