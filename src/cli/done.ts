import { COMMON_FLAGS, MODEL_FLAGS, intFlag, numFlag, parse, requireFlag, strFlag, type CommandSpec } from './args.js';
import { loadModel, print } from './load.js';
import { VlacError } from '../errors.js';

export const spec: CommandSpec = {
  name: 'done',
  summary: 'is the task done in this image?',
  usage: 'vlac done --model DIR --task T IMG [--goal G] [--threshold X]',
  flags: {
    ...MODEL_FLAGS,
    task: { type: 'string', arg: 'T', help: 'the task' },
    goal: { type: 'string', arg: 'G', help: 'a goal image (goal-image done)' },
    threshold: { type: 'string', arg: 'X', help: 'done when the value is above this (default 0.9)' },
    rich: { type: 'boolean', help: 'rebuild the value from the top-10 logprobs' },
    ...COMMON_FLAGS,
  },
  examples: ['vlac done --model /models/VLAC --task "Open the drawer." frame.jpg'],
};

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const model = requireFlag(p, 'model', spec);
  const task = requireFlag(p, 'task', spec);
  if (p.positionals.length !== 1) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac done: give exactly one image');
  const vlac = await loadModel(p, model);
  try {
    const goal = strFlag(p, 'goal');
    const r = await vlac.done({
      task, image: p.positionals[0], ...(goal ? { goal } : {}),
      ...(numFlag(p, 'threshold') !== undefined ? { threshold: numFlag(p, 'threshold') } : {}),
      rich: p.values.rich === true,
      ...(intFlag(p, 'max-tokens') !== undefined ? { maxTokens: intFlag(p, 'max-tokens') } : {}),
    });
    print(p, r, () => `done:  ${r.done}\nvalue: ${r.value ?? 'unparsable'}\nreply: ${JSON.stringify(r.text)}`);
  } finally {
    await vlac.dispose();
  }
}
