// Where the shared golden fixtures are (tests read them at run time; never copied into the repo).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixturesDir = process.env.VLAC_FIXTURES ?? resolve(repoRoot, '..', 'shared', 'fixtures');
export const tinyA = join(fixturesDir, 'tiny-a');

export function fixture(relative: string): string {
  return join(fixturesDir, relative);
}

export function readJson<T = unknown>(relative: string): T {
  return JSON.parse(readFileSync(fixture(relative), 'utf8')) as T;
}

export interface GoldenCase {
  name: string;
  task: string | null;
  query: string;
  images: string[];
  image_files: string[];
  text: string;
  input_ids: number[];
  max_new_tokens: number;
  stop_ids: number[];
  greedy: number[];
  steps: { token: number; margin: number; top: [number, number][] }[];
  greedy_min_margin: number;
}

export function goldenCases(): GoldenCase[] {
  return readJson<{ cases: GoldenCase[] }>('tiny-a/golden/cases.json').cases;
}
