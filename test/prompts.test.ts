// The one prompt renderer against the official renderings (fixtures/vlac/prompts.json) and the
// golden model cases (fixtures/tiny-a/golden/cases.json).
import { describe, expect, it } from 'vitest';
import { renderChat, renderPrompt, VLAC_SYSTEM_PROMPT } from '../src/tasks/prompts.js';
import type { PromptKind } from '../src/tasks/types.js';
import { fixtureJson, fixtureTokenizer } from './tasks-helpers.js';

interface PromptEntry { kind: string; options: Record<string, unknown>; task: string; images: number; query: string; text: string; ids: number[] }

// prompts.json names the kinds as the official functions; renderPrompt as the methods (api.md §5).
const KIND: Record<string, PromptKind> = {
  critic: 'pair', done: 'done', 'done-goal': 'done-goal', 'done-in-context': 'done-in-context',
  'task-description': 'describe', action: 'action', 'action-score': 'action-score', 'action-inverse': 'action-inverse',
};

const prompts = fixtureJson<{ prompts: PromptEntry[] }>('vlac/prompts.json').prompts;

describe('every official VLAC prompt renders to exactly its ids', () => {
  it.each(prompts.map((p, i) => [`${i} ${p.kind} ${JSON.stringify(p.options)}`, p] as const))('%s', async (_name, p) => {
    const tok = await fixtureTokenizer();
    const kind = KIND[p.kind];
    expect(kind, `unmapped kind ${p.kind}`).toBeDefined();
    const r = renderPrompt(tok, 256, kind!, { task: p.task, ...p.options });
    expect(r.query).toBe(p.query);
    expect(r.imageSlots).toBe(p.images);
    expect(r.text).toBe(p.text);
    expect(Array.from(r.ids)).toEqual(p.ids);
  });
  it('covers every kind of the fixture', () => {
    expect(new Set(prompts.map((p) => KIND[p.kind]))).toEqual(new Set(Object.values(KIND)));
  });
});

interface GoldenCase { name: string; task: string | null; query: string; system: string; images: string[]; text: string; input_ids: number[] }

describe('the golden model cases render through the chat layout', () => {
  const cases = fixtureJson<{ cases: GoldenCase[] }>('tiny-a/golden/cases.json').cases;
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const tok = await fixtureTokenizer();
    expect(c.system).toBe(VLAC_SYSTEM_PROMPT);
    const r = renderChat(tok, 256, c.query, c.images.length);
    expect(r.text).toBe(c.text);
    expect(Array.from(r.ids)).toEqual(c.input_ids);
  });
});
