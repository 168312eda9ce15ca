#!/usr/bin/env node
// Builds the native addon from source with the engine's one build description (CMakeLists.txt).
// Used by `npm run build:native`, by binding.gyp (node-gyp-build's fallback) and by the install
// script when no prebuilt binary loads. Says what is missing when it cannot build.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const tool of ['cmake']) {
  const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    console.error(`vlac-engine: building the native addon from source needs '${tool}' (>= 3.18) on PATH, ` +
      'plus a C++17 compiler (g++ >= 9 or clang >= 10) and ninja or make.');
    process.exit(1);
  }
}
const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--config', 'Release', '--out', 'build/addon', '--CDBUILD_TESTING=OFF'], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
