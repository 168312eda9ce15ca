// The glibc floor users have (README, Platforms): a shipped binary needs no GLIBC symbol version
// newer than 2.31 and no libstdc++ / libgcc_s. The binaries checked are the prebuilds that
// `npm run prebuildify` made (built in Debian 11) when they exist; a clean clone has none (they are
// build outputs), and then the addon of the normal build is checked against the glibc of the
// machine that built it, which still catches a dynamically linked C++ runtime.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script (also run by scripts/prebuild.sh), no type declarations
import { GLIBC_FLOOR, checkBinary, compareVersions } from '../scripts/prebuild-check.mjs';
import { repoRoot } from './support/fixtures.js';

type Check = { file: string; newestGlibc?: string; needed: string[]; problems: string[] };

const prebuildDir = join(repoRoot, 'prebuilds', 'linux-x64');
const prebuilds = existsSync(prebuildDir)
  ? readdirSync(prebuildDir).filter((f) => /\.node$|\.so(\.\d+)*$/.test(f)).map((f) => join(prebuildDir, f))
  : [];
const sourceBuild = process.env.VLAC_NATIVE_BINARY ?? join(repoRoot, 'build', 'addon', 'Release', 'vlac.node');
const machineGlibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;

/** The newest GLIBC_x.y that `objdump -T` lists, or undefined when binutils is not installed. */
function objdumpNewestGlibc(file: string): string | undefined {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const versions = [...r.stdout.matchAll(/\bGLIBC_(\d+(?:\.\d+)+)\b/g)].map((m) => m[1]!);
  return versions.sort(compareVersions).at(-1);
}

describe('shipped binaries and the glibc floor', () => {
  if (prebuilds.length > 0) {
    for (const file of prebuilds) {
      it(`the prebuilt ${file.slice(repoRoot.length + 1)} needs nothing newer than GLIBC_${GLIBC_FLOOR}, nor libstdc++ or libgcc_s`, () => {
        const r = checkBinary(file, GLIBC_FLOOR) as Check;
        console.log(`glibc floor: checked prebuild ${file}: newest GLIBC_${r.newestGlibc}, NEEDED ${r.needed.join(', ')}`);
        expect(r.problems).toEqual([]);
      });
    }
  } else {
    it(`(no prebuilds/: npm run prebuildify not run) the source-built addon needs nothing newer than this machine's glibc ${machineGlibc}, nor libstdc++ or libgcc_s`, () => {
      expect(existsSync(sourceBuild), `${sourceBuild} is missing: npm test (or npm run build:native) builds it`).toBe(true);
      const r = checkBinary(sourceBuild, machineGlibc) as Check;
      console.log(`glibc floor: no prebuild; checked the source build ${sourceBuild} against glibc ${machineGlibc}: ` +
        `newest GLIBC_${r.newestGlibc}, NEEDED ${r.needed.join(', ')}`);
      expect(r.problems).toEqual([]);
    });
  }

  it('the check fails a binary that needs a newer glibc than the floor, naming the symbols, and agrees with objdump', () => {
    // node itself needs some GLIBC version above the oldest one of x86-64 (2.2.5).
    const r = checkBinary(process.execPath, '2.2.5') as Check;
    expect(r.newestGlibc).toBeDefined();
    expect(compareVersions(r.newestGlibc!, '2.2.5')).toBeGreaterThan(0);
    expect(r.problems.join('\n')).toContain(`@GLIBC_${r.newestGlibc}`);
    expect(r.problems.join('\n')).toMatch(/needs symbols newer than GLIBC_2\.2\.5: \S+@GLIBC_/);
    if (r.needed.some((n) => n.startsWith('libstdc++.so'))) {
      expect(r.problems.join('\n')).toContain('needs libstdc++.so.6');
    }
    const objdump = objdumpNewestGlibc(process.execPath);
    if (objdump !== undefined) expect(r.newestGlibc).toBe(objdump);
  });
});
