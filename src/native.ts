// Finds and loads the native addon, and explains a failure (ERR_VLAC_NATIVE_LOAD).
// Search order:
//   1. $VLAC_NATIVE_BINARY, when set;
//   2. a source build in this package folder, build/addon/Release/vlac.node: made by
//      `npm run build:native`, or by the install script when no prebuilt binary loaded here, so
//      when it exists it is the one meant for this machine (and, in a checkout, the fresh one);
//   3. what node-gyp-build picks: build/Release, then the prebuilt binary that fits this platform
//      in prebuilds/<platform>-<arch>/ (`npm run prebuildify`; README, Platforms).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
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

type Candidate = { path: string } | { missing: string };

function candidates(): Candidate[] {
  const out: Candidate[] = [];
  if (process.env.VLAC_NATIVE_BINARY) out.push({ path: process.env.VLAC_NATIVE_BINARY });
  out.push({ path: join(packageRoot, 'build', 'addon', 'Release', 'vlac.node') });
  try {
    const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
    out.push({ path: nodeGypBuild.path(packageRoot) });
  } catch (err) {
    // node-gyp-build names the platform, arch, libc and Node version it looked for.
    out.push({ missing: `prebuilt binary: ${(err as Error).message.trim().replace(/\s*\n\s*/g, '; ')}` });
  }
  return out;
}

export function loadNative(): NativeAddon {
  if (addon) return addon;
  const tried: string[] = [];
  for (const c of candidates()) {
    if ('missing' in c) {
      tried.push(c.missing);
      continue;
    }
    if (!existsSync(c.path)) {
      tried.push(`${c.path}: not present`);
      continue;
    }
    try {
      addon = require(c.path) as NativeAddon;
      addonPath = c.path;
      return addon;
    } catch (err) {
      tried.push(`${c.path}: ${(err as Error).message}`);
    }
  }
  const glibc = tried.some((t) => /GLIBC_[\d.]+' not found/.test(t))
    ? '\nThe prebuilt binaries need glibc >= 2.31 (README, Platforms).'
    : '';
  throw new VlacError(
    'ERR_VLAC_NATIVE_LOAD',
    `the vlac-engine native binary could not be loaded for ${process.platform}-${process.arch}.\n` +
      tried.map((t) => `  - ${t}`).join('\n') +
      glibc +
      '\nBuild it from source with `npm rebuild vlac-engine` in the project that uses it, or ' +
      '`npm run build:native` in a checkout (needs cmake >= 3.18, a C++17 compiler and ninja or make).',
  );
}

export function nativeBinaryPath(): string | undefined {
  return addonPath;
}
