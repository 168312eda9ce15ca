#!/usr/bin/env node
// The package's npm "install" script (README, Platforms). Downloads nothing.
//   1. When the prebuilt binary node-gyp-build picks for this machine loads (tried in a child
//      process, so a crash or a missing GLIBC version cannot take npm down), that is all.
//   2. Otherwise it builds the addon from source with scripts/build-native.mjs, after checking the
//      tools that needs, and names every missing one when it cannot (exit 1).
// In a development checkout (native/tests present: never shipped) it builds nothing: `npm test`
// and `npm run build:native` build the addon there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line) => console.log(`vlac-engine: ${line}`);

function prebuiltBinary() {
  try {
    return { path: createRequire(import.meta.url)('node-gyp-build').path(root) };
  } catch (err) {
    return { error: err.message.trim().split('\n')[0] };
  }
}

/** Loads the binary in a fresh node and asks it for its build info; the reason when it cannot. */
function loads(path) {
  const probe = 'const a = require(process.argv[1]); console.log(JSON.stringify(a.nativeInfo()));';
  const r = spawnSync(process.execPath, ['-e', probe, path], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true, info: r.stdout.trim() };
  const reason = (r.stderr || '').split('\n').find((l) => /Error|error:/.test(l)) ?? `exit ${r.status ?? r.signal}`;
  return { ok: false, reason: reason.trim() };
}

function onPath(tool, args = ['--version']) {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

function missingTools() {
  const missing = [];
  if (!onPath('cmake')) missing.push("'cmake' (>= 3.18)");
  const cxx = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
  if (!cxx.some((c) => onPath(c))) {
    missing.push(`a C++17 compiler (${process.env.CXX ? `$CXX=${process.env.CXX} does not run` : 'g++ >= 9 or clang++ >= 10'})`);
  }
  if (!onPath('ninja') && !onPath('make')) missing.push("'ninja' or 'make'");
  return missing;
}

const prebuilt = prebuiltBinary();
if (prebuilt.path) {
  const r = loads(prebuilt.path);
  if (r.ok) {
    log(`using the prebuilt binary ${prebuilt.path} ${r.info}`);
    process.exit(0);
  }
  log(`the prebuilt binary ${prebuilt.path} does not load here: ${r.reason}`);
  if (/GLIBC_[\d.]+' not found/.test(r.reason)) log('the prebuilt binaries need glibc >= 2.31');
} else {
  log(`no prebuilt binary for this platform (${prebuilt.error})`);
}

if (existsSync(join(root, 'native', 'tests'))) {
  log('development checkout: not building here; `npm test` or `npm run build:native` builds the addon');
  process.exit(0);
}

const missing = missingTools();
if (missing.length) {
  console.error(`vlac-engine: cannot build the native addon from source: missing ${missing.join(', ')} on PATH.\n` +
    'Install them (Debian/Ubuntu: apt-get install cmake g++ ninja-build) and run `npm rebuild vlac-engine`, ' +
    'or use a platform the prebuilt binaries cover (README, Platforms: linux-x64, glibc >= 2.31).');
  process.exit(1);
}
log('building the native addon from source (CMake)');
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
