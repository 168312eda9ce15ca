#!/usr/bin/env node
// The project's one test command (README): builds the engine and the addon, runs the native
// ctest suite and the vitest suite, and ends with the line `N passed, N failed` that CI reads.
// Options: --native-only, --js-only, --skip-build.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const jobs = String(Math.max(1, Math.min(cpus().length, 4)));

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

let passed = 0;
let failed = 0;

function buildStep(name, cmd, argv) {
  if (run(cmd, argv) !== 0) {
    console.error(`test: ${name} failed`);
    failed += 1;
    return false;
  }
  return true;
}

// --- native: ctest, counting doctest's test cases (one ctest entry = one test executable) ---
if (!args.has('--js-only')) {
  const buildDir = join(root, 'build', 'native');
  let ok = true;
  if (!args.has('--skip-build')) {
    // The addon is built in the same tree as the ctest executables (one compile of the engine), from
    // node-addon-api's and node-api-headers' include folders.
    const require = createRequire(import.meta.url);
    const napiInclude = [require('node-addon-api').include_dir, require('node-api-headers').include_dir]
      .map((d) => resolve(root, d)).join(';');
    ok = buildStep('cmake configure', 'cmake', ['-S', '.', '-B', buildDir, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=Release',
      `-DNODE_API_INCLUDE=${napiInclude}`]) &&
      buildStep('native build', 'cmake', ['--build', buildDir, '-j', jobs]);
  }
  if (ok) {
    const listing = spawnSync('ctest', ['--test-dir', buildDir, '-N'], { cwd: root, encoding: 'utf8' });
    const names = [...(listing.stdout ?? '').matchAll(/Test\s+#\d+:\s+(\S+)/g)].map((m) => m[1]);
    for (const name of names) {
      const exe = join(buildDir, `vlac_${name}`);
      const r = spawnSync(exe, ['--reporters=console', '--no-intro=true'], { cwd: root, encoding: 'utf8' });
      process.stdout.write(r.stdout ?? '');
      process.stderr.write(r.stderr ?? '');
      const m = /test cases:\s*(\d+)\s*\|\s*(\d+)\s*passed\s*\|\s*(\d+)\s*failed/.exec(r.stdout ?? '');
      if (m) {
        passed += Number(m[2]);
        failed += Number(m[3]);
        if (r.status !== 0 && Number(m[3]) === 0) failed += 1; // crashed after its summary
      } else {
        console.error(`test: ${name} produced no doctest summary (exit ${r.status}, signal ${r.signal})`);
        failed += 1;
      }
    }
  }
}

// --- TypeScript: the addon, the compiled package, vitest ---
if (!args.has('--native-only')) {
  let ok = true;
  if (!args.has('--skip-build')) {
    const treeAddon = join(root, 'build', 'native', 'vlac.node');
    if (!args.has('--js-only') && existsSync(treeAddon)) {
      process.env.VLAC_NATIVE_BINARY = treeAddon; // built with the ctest tree above
      ok = buildStep('TypeScript build', 'npm', ['run', '--silent', 'build:ts']);
    } else {
      ok = buildStep('addon build', 'npm', ['run', '--silent', 'build:native']) &&
        buildStep('TypeScript build', 'npm', ['run', '--silent', 'build:ts']);
    }
  }
  if (ok) {
    mkdirSync(join(root, 'build'), { recursive: true });
    const report = join(root, 'build', 'vitest-report.json');
    run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`]);
    if (existsSync(report)) {
      const r = JSON.parse(readFileSync(report, 'utf8'));
      passed += r.numPassedTests ?? 0;
      failed += r.numFailedTests ?? 0;
      // A test file that failed to load has no failed assertion but must count as a failure.
      for (const file of r.testResults ?? []) {
        const failedAssertions = (file.assertionResults ?? []).filter((a) => a.status === 'failed').length;
        if (file.status === 'failed' && failedAssertions === 0) failed += 1;
      }
    } else {
      console.error('test: vitest wrote no report');
      failed += 1;
    }
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
