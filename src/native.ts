// Finds and loads the native addon, and explains a failure (ERR_VLAC_NATIVE_LOAD).
// Search order: a prebuilt binary shipped in prebuilds/<platform>-<arch>/ (node-gyp-build's
// layout), then a local source build (build/addon/Release/vlac.node, from `npm run build:native`).
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VlacError } from './errors.js';

const require = createRequire(import.meta.url);
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The addon's functions, as native/napi registers them. */
export interface NativeAddon {
  nativeInfo(): { napiVersion: number; compiler?: string; [key: string]: unknown };
  [name: string]: unknown;
}

let addon: NativeAddon | undefined;
let addonPath: string | undefined;

function candidates(): string[] {
  const out: string[] = [];
  if (process.env.VLAC_NATIVE_BINARY) out.push(process.env.VLAC_NATIVE_BINARY);
  const prebuilds = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  if (existsSync(prebuilds)) {
    for (const f of readdirSync(prebuilds)) if (f.endsWith('.node')) out.push(join(prebuilds, f));
  }
  out.push(join(packageRoot, 'build', 'addon', 'Release', 'vlac.node'));
  return out;
}

export function loadNative(): NativeAddon {
  if (addon) return addon;
  const tried: string[] = [];
  for (const path of candidates()) {
    if (!existsSync(path)) {
      tried.push(`${path}: not present`);
      continue;
    }
    try {
      addon = require(path) as NativeAddon;
      addonPath = path;
      return addon;
    } catch (err) {
      tried.push(`${path}: ${(err as Error).message}`);
    }
  }
  throw new VlacError(
    'ERR_VLAC_NATIVE_LOAD',
    `the vlac-engine native binary could not be loaded for ${process.platform}-${process.arch}.\n` +
      tried.map((t) => `  - ${t}`).join('\n') +
      '\nBuild it from source with `npm run build:native` (needs cmake >= 3.18 and a C++17 compiler).',
  );
}

export function nativeBinaryPath(): string | undefined {
  return addonPath;
}
