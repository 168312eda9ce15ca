#!/usr/bin/env node
// The glibc floor of a shipped binary, read from its ELF dynamic section and symbol versions (the
// same facts `objdump -T` and `readelf -d` print, without needing binutils): every GLIBC_x.y it
// needs, the symbols that need the newest one, and its NEEDED libraries. A prebuilt binary passes
// when it needs no GLIBC symbol version newer than the floor and neither libstdc++ nor libgcc_s
// (README, Platforms; issue 18).
//
//   node scripts/prebuild-check.mjs [--floor 2.31] [--glibc-only] FILE...   exit 1 when a file fails
// (--glibc-only: a dynamically linked C++ runtime is allowed, as for the C++ CLI.)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const GLIBC_FLOOR = '2.31';

const SHT_DYNSYM = 11;
const SHT_DYNAMIC = 6;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const DT_NEEDED = 1;

function cstring(buf, offset) {
  const end = buf.indexOf(0, offset);
  return buf.toString('latin1', offset, end < 0 ? buf.length : end);
}

/**
 * NEEDED libraries and versioned undefined symbols of an ELF64 little-endian file.
 * @returns {{ needed: string[], versions: { library: string, version: string }[],
 *             symbols: { name: string, library: string, version: string }[] }}
 */
export function readElfDependencies(path) {
  const buf = readFileSync(path);
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${path}: not a 64-bit little-endian ELF file`);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 0x18)),
      size: Number(buf.readBigUInt64LE(o + 0x20)),
      link: buf.readUInt32LE(o + 0x28),
      info: buf.readUInt32LE(o + 0x2c),
    });
  }
  const strAt = (section, offset) => cstring(buf, sections[section.link].offset + offset);

  const needed = [];
  for (const s of sections.filter((x) => x.type === SHT_DYNAMIC)) {
    for (let o = s.offset; o + 16 <= s.offset + s.size; o += 16) {
      const tag = buf.readBigInt64LE(o);
      if (tag === 0n) break;
      if (tag === BigInt(DT_NEEDED)) needed.push(strAt(s, Number(buf.readBigUInt64LE(o + 8))));
    }
  }

  // Version index (as used in .gnu.version) -> { library, version }, from .gnu.version_r.
  const byIndex = new Map();
  const versions = [];
  for (const s of sections.filter((x) => x.type === SHT_GNU_VERNEED)) {
    let o = s.offset;
    for (let n = 0; n < s.info; n++) {
      const count = buf.readUInt16LE(o + 2);
      const library = strAt(s, buf.readUInt32LE(o + 4));
      let a = o + buf.readUInt32LE(o + 8);
      for (let k = 0; k < count; k++) {
        const entry = { library, version: strAt(s, buf.readUInt32LE(a + 8)) };
        byIndex.set(buf.readUInt16LE(a + 6) & 0x7fff, entry);
        versions.push(entry);
        a += buf.readUInt32LE(a + 12);
      }
      const next = buf.readUInt32LE(o + 12);
      if (next === 0) break;
      o += next;
    }
  }

  const symbols = [];
  const dynsym = sections.find((x) => x.type === SHT_DYNSYM);
  const versym = sections.find((x) => x.type === SHT_GNU_VERSYM);
  if (dynsym && versym) {
    for (let i = 0; i * 24 < dynsym.size; i++) {
      const o = dynsym.offset + i * 24;
      if (buf.readUInt16LE(o + 6) !== 0) continue; // defined here: needs nothing
      const v = byIndex.get(buf.readUInt16LE(versym.offset + i * 2) & 0x7fff);
      if (v) symbols.push({ name: strAt(dynsym, buf.readUInt32LE(o)), ...v });
    }
  }
  return { needed, versions, symbols };
}

/** Numeric comparison of dotted versions: '2.31' > '2.2.5'. */
export function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

const glibcVersion = (v) => /^GLIBC_(\d+(?:\.\d+)*)$/.exec(v)?.[1];

/**
 * Checks one binary against a glibc floor.
 * @returns {{ file: string, newestGlibc: string | undefined, needed: string[], problems: string[] }}
 */
export function checkBinary(path, floor = GLIBC_FLOOR, { glibcOnly = false } = {}) {
  const deps = readElfDependencies(path);
  const problems = [];
  let newestGlibc;
  for (const { version } of deps.versions) {
    const g = glibcVersion(version);
    if (g && (!newestGlibc || compareVersions(g, newestGlibc) > 0)) newestGlibc = g;
  }
  const tooNew = deps.symbols.filter((s) => {
    const g = glibcVersion(s.version);
    return g && compareVersions(g, floor) > 0;
  });
  if (tooNew.length) {
    problems.push(`needs symbols newer than GLIBC_${floor}: ` +
      tooNew.map((s) => `${s.name}@${s.version}`).join(', '));
  }
  const runtime = deps.needed.filter((n) => /^(libstdc\+\+|libgcc_s)\.so/.test(n));
  if (runtime.length && !glibcOnly) problems.push(`needs ${runtime.join(' and ')} (link them statically: VLAC_STATIC_RUNTIME)`);
  return { file: path, newestGlibc, needed: deps.needed, problems };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let floor = GLIBC_FLOOR;
  const i = args.indexOf('--floor');
  if (i >= 0) floor = args.splice(i, 2)[1];
  const glibcOnly = args.includes('--glibc-only');
  if (glibcOnly) args.splice(args.indexOf('--glibc-only'), 1);
  if (args.length === 0) {
    console.error('usage: node scripts/prebuild-check.mjs [--floor 2.31] [--glibc-only] FILE...');
    process.exit(2);
  }
  let failed = false;
  for (const file of args) {
    const r = checkBinary(file, floor, { glibcOnly });
    console.log(`${file}: newest GLIBC_${r.newestGlibc ?? '(none)'} (floor ${floor}); NEEDED ${r.needed.join(', ')}`);
    for (const p of r.problems) console.log(`  FAIL ${p}`);
    failed ||= r.problems.length > 0;
  }
  process.exit(failed ? 1 : 0);
}
