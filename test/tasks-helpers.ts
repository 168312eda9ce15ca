// Shared by the task-layer tests: where the fixtures are, and the fixture tokenizer.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../src/tokenizer.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const fixtures = process.env.VLAC_FIXTURES ?? path.resolve(repoRoot, '../shared/fixtures');
export const tinyA = path.join(fixtures, 'tiny-a');

export function fixtureJson<T = any>(rel: string): T {
  return JSON.parse(readFileSync(path.join(fixtures, rel), 'utf8')) as T;
}

let tokenizer: Promise<Tokenizer> | undefined;
export function fixtureTokenizer(): Promise<Tokenizer> {
  tokenizer ??= Tokenizer.load(tinyA);
  return tokenizer;
}
