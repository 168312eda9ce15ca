// The npm package as users get it (issue 18): `npm pack`, install the tarball into a new project
// with no compiler, cmake, make, ninja or nvcc on PATH (toolchain.md P7: a folder holding node,
// npm, npx and sh, plus tripwires under the build tools' names that record any call and fail),
// with its install script and with --ignore-scripts, then a smoke script in that project loads
// tiny-a and runs pairCritic. No compiler ran: the tripwires stayed silent, no build/ folder
// appeared, the install script says it used the prebuilt binary, and the binary the engine loaded
// lies in the installed package's prebuilds/.
//
// The packed prebuild is the one `npm run prebuildify` made (Debian 11, the glibc floor) when it
// exists; a clean clone has none (build outputs are not committed), and then the addon of the
// normal build goes into prebuilds/ of a staged copy of the package, as prebuildify names it.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync,
  statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenCases, fixture, repoRoot, tinyA } from './support/fixtures.js';

const TOOLS = ['cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'cmake', 'make', 'ninja', 'nvcc', 'ld'];
const SIZE_BUDGET = 30 * 1024 * 1024;

let work: string;
let tarball: string;
let packedFiles: string[];
let tarballSize: number;
let prebuildKind: string;
let binDir: string;

/** An environment with only binDir on PATH and nothing from the npm run that started vitest. */
function strippedEnv(tripwireLog: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|PATH$|VLAC_NATIVE_BINARY$|CXX$|CC$|NODE_OPTIONS$|VITEST|TEST$)/i.test(k)) continue;
    env[k] = v;
  }
  env.PATH = binDir;
  env.VLAC_TRIPWIRE_LOG = tripwireLog;
  return env;
}

function run(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, tool);
    if (dir && existsSync(p)) return realpathSync(p);
  }
  return undefined;
}

function makeBinDir(): string {
  const dir = join(work, 'bin');
  mkdirSync(dir);
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const tool of ['npm', 'npx']) {
    const p = which(tool);
    if (!p) throw new Error(`${tool} is not on PATH`);
    symlinkSync(p, join(dir, tool));
  }
  symlinkSync('/bin/sh', join(dir, 'sh'));
  for (const tool of TOOLS) {
    const p = join(dir, tool);
    writeFileSync(p, '#!/bin/sh\necho "$0 $*" >> "${VLAC_TRIPWIRE_LOG:-/dev/null}"\nexit 127\n');
    chmodSync(p, 0o755);
  }
  return dir;
}

/** Copies the files `npm pack` would take into a staging folder, adds a prebuild when none exists. */
function stagePackage(): string {
  if (!existsSync(join(repoRoot, 'dist', 'index.js'))) {
    const b = run('npm', ['run', '--silent', 'build:ts'], repoRoot);
    if (b.status !== 0) throw new Error(`TypeScript build failed:\n${b.stdout}${b.stderr}`);
  }
  const dry = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], repoRoot);
  if (dry.status !== 0) throw new Error(`npm pack --dry-run failed:\n${dry.stderr}`);
  const files = (JSON.parse(dry.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  const stage = join(work, 'package');
  for (const f of files) {
    mkdirSync(dirname(join(stage, f)), { recursive: true });
    cpSync(join(repoRoot, f), join(stage, f));
  }
  const prebuilt = files.find((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
  if (prebuilt) {
    prebuildKind = `the prebuild from npm run prebuildify (${prebuilt})`;
  } else {
    const addon = process.env.VLAC_NATIVE_BINARY ?? join(repoRoot, 'build', 'addon', 'Release', 'vlac.node');
    if (!existsSync(addon)) {
      const b = run(process.execPath, [join(repoRoot, 'scripts', 'build-native.mjs')], repoRoot);
      if (b.status !== 0) throw new Error(`addon build failed:\n${b.stdout}${b.stderr}`);
    }
    // The name prebuildify gives it (--napi --tag-libc), so node-gyp-build picks it the same way.
    mkdirSync(join(stage, 'prebuilds', 'linux-x64'), { recursive: true });
    cpSync(addon, join(stage, 'prebuilds', 'linux-x64', 'vlac-engine.glibc.node'));
    prebuildKind = `no prebuilds/ (npm run prebuildify not run): the normal build's ${addon}, staged as a prebuild`;
  }
  return stage;
}

/** A new project holding the tarball, installed with the stripped PATH. */
function install(name: string, extraArgs: string[]): { dir: string; output: string; log: string } {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `smoke-${name}`, version: '1.0.0', private: true, type: 'module' }));
  const log = join(work, `${name}-tripwire.log`);
  const r = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', ...extraArgs, tarball], dir, strippedEnv(log));
  const output = r.stdout + r.stderr;
  expect(r.status, `npm install ${extraArgs.join(' ')} failed:\n${output}`).toBe(0);
  return { dir, output, log };
}

const SMOKE = `
import { Vlac } from 'vlac-engine';
const [model, task, first, second] = process.argv.slice(2);
const vlac = await Vlac.load(model, { device: 'cpu' });
try {
  const r = await vlac.pairCritic({ task, first, second, maxTokens: 3 });
  console.log(JSON.stringify({ binary: vlac.info.binary, critic: r.critic, text: r.text, ids: Array.from(r.ids) }));
} finally {
  await vlac.dispose();
}
`;

function smoke(project: { dir: string; log: string }): { binary: string; critic: unknown; text: string; ids: number[] } {
  const c = goldenCases().find((x) => x.name === 'two-image')!;
  writeFileSync(join(project.dir, 'smoke.mjs'), SMOKE);
  const r = run('node', ['smoke.mjs', tinyA, c.task!, fixture(c.image_files[0]!), fixture(c.image_files[1]!)], project.dir,
    strippedEnv(project.log));
  expect(r.status, `smoke script failed:\n${r.stdout}${r.stderr}`).toBe(0);
  const line = r.stdout.trim().split('\n').at(-1)!;
  console.log(`packaging: smoke result in ${project.dir}: ${line}`);
  return JSON.parse(line);
}

function expectNoCompilerRan(project: { dir: string; log: string }): void {
  const pkg = join(project.dir, 'node_modules', 'vlac-engine');
  expect(existsSync(project.log) ? readFileSync(project.log, 'utf8') : '', 'a build tool was called').toBe('');
  expect(existsSync(join(pkg, 'build')), 'a build/ folder appeared in the installed package').toBe(false);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'vlac-packaging-'));
  binDir = makeBinDir();
  const stage = stagePackage();
  const r = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], stage);
  expect(r.status, `npm pack failed:\n${r.stderr}`).toBe(0);
  const info = (JSON.parse(r.stdout) as { filename: string; size: number; files: { path: string }[] }[])[0]!;
  tarball = join(work, info.filename);
  tarballSize = statSync(tarball).size;
  packedFiles = info.files.map((f) => f.path);
  console.log(`packaging: packed ${tarball}: ${(tarballSize / 1e6).toFixed(2)} MB, ${packedFiles.length} files; ${prebuildKind}`);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed npm package', () => {
  it('is under 30 MB and ships the prebuild, the compiled API and the source fallback, but no tests, fixtures or build folders', () => {
    expect(tarballSize).toBeLessThan(SIZE_BUDGET);
    expect(packedFiles).toContain('dist/index.js');
    expect(packedFiles).toContain('scripts/install.mjs');
    expect(packedFiles).toContain('scripts/build-native.mjs');
    expect(packedFiles).toContain('CMakeLists.txt');
    expect(packedFiles.some((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f))).toBe(true);
    const unwanted = packedFiles.filter((f) =>
      /^(test|bench|build[^/]*|native\/tests|native\/fuzz|native\/third_party\/doctest|src|node_modules|\.cache|\.ci)\//.test(f) ||
      /\.(safetensors|map)$/.test(f) || f.includes('fixtures'));
    expect(unwanted).toEqual([]);
  });

  it('the stripped PATH has node, npm, npx and sh, and no compiler, cmake, make, ninja or nvcc', () => {
    const r = run('sh', ['-c', `for t in ${TOOLS.join(' ')}; do command -v $t; done; command -v node npm npx sh`], work, strippedEnv(join(work, 'probe.log')));
    // Every build tool resolves only to its tripwire in binDir.
    for (const line of r.stdout.trim().split('\n')) expect(dirname(line)).toBe(binDir);
    expect(readdirSync(binDir).sort()).toEqual([...TOOLS, 'node', 'npm', 'npx', 'sh'].sort());
  });

  it('installs with no compiler on PATH, its install script takes the prebuilt binary, and a pair critic runs', () => {
    const project = install('with-scripts', []);
    expect(project.output).toMatch(/vlac-engine: using the prebuilt binary \S+\/prebuilds\/linux-x64\/\S+\.node/);
    expect(project.output).not.toContain('building the native addon from source');
    const result = smoke(project);
    expect(result.binary).toBe(join(realpathSync(project.dir), 'node_modules', 'vlac-engine', 'prebuilds', 'linux-x64', 'vlac-engine.glibc.node'));
    // Random weights: the reply is no number, but its first tokens are the official greedy ones.
    expect(result.ids).toEqual(goldenCases().find((x) => x.name === 'two-image')!.greedy.slice(0, 3));
    // The README's main-job command from the installed package, in a folder with no ../shared:
    // demo makes its own random checkpoint and tokenizer.
    const demo = run('npx', ['vlac', 'demo', '--out', 'demo-out'], project.dir,
      { ...strippedEnv(project.log), VLAC_CACHE_DIR: join(project.dir, 'cache') });
    expect(demo.status, `npx vlac demo failed:\n${demo.stdout}${demo.stderr}`).toBe(0);
    expect(demo.stderr).toContain('RANDOM weights');
    expect(existsSync(join(project.dir, 'demo-out', 'value.png'))).toBe(true);
    expectNoCompilerRan(project);
  }, 240_000);

  it('installs with --ignore-scripts and a pair critic runs on the prebuilt binary', () => {
    const project = install('ignore-scripts', ['--ignore-scripts']);
    expect(project.output).not.toContain('vlac-engine: ');
    const result = smoke(project);
    expect(result.binary).toMatch(/\/node_modules\/vlac-engine\/prebuilds\/linux-x64\/vlac-engine\.glibc\.node$/);
    expect(result.ids).toEqual(goldenCases().find((x) => x.name === 'two-image')!.greedy.slice(0, 3));
    expectNoCompilerRan(project);
  }, 180_000);

  it('with no prebuilt binary and no build tools, the install script names what is missing and fails', () => {
    // The installed package of the previous test, without its prebuilds/.
    const project = join(work, 'no-prebuild');
    cpSync(join(work, 'ignore-scripts'), project, { recursive: true, verbatimSymlinks: true });
    rmSync(join(project, 'node_modules', 'vlac-engine', 'prebuilds'), { recursive: true });
    const r = run('node', [join(project, 'node_modules', 'vlac-engine', 'scripts', 'install.mjs')], project,
      strippedEnv(join(work, 'no-prebuild-tripwire.log')));
    const output = r.stdout + r.stderr;
    expect(r.status, output).toBe(1);
    expect(output).toContain('no prebuilt binary for this platform');
    expect(output).toMatch(/cannot build the native addon from source: missing 'cmake' \(>= 3\.18\), a C\+\+17 compiler .*'ninja' or 'make'/);
    expect(existsSync(join(project, 'node_modules', 'vlac-engine', 'build'))).toBe(false);
    // The tripwires work: the install script's probe of cmake met one.
    expect(readFileSync(join(work, 'no-prebuild-tripwire.log'), 'utf8')).toContain('/cmake --version');
  });
});
