import { COMMON_FLAGS, MODEL_FLAGS, intFlag, listFlag, parse, requireFlag, type CommandSpec } from './args.js';
import { loadModel, print } from './load.js';
import { VlacError } from '../errors.js';

export const spec: CommandSpec = {
  name: 'pair',
  summary: 'one pair critic: how much progress image B made over image A toward the task',
  usage: 'vlac pair --model DIR --task T A B [--reference F]... [--ref-num N] [--think] [--rich]',
  flags: {
    ...MODEL_FLAGS,
    task: { type: 'string', arg: 'T', help: 'the task, e.g. "Scoop the rice into the rice cooker."' },
    reference: { type: 'string', multiple: true, arg: 'F', help: 'a reference trajectory frame (repeat, or comma-separated)' },
    'ref-num': { type: 'string', arg: 'N', help: 'reference frames sampled into the prompt (default 6)' },
    think: { type: 'boolean', help: 'ask for a reasoned reply' },
    rich: { type: 'boolean', help: 'rebuild a decimal critic from the top-10 logprobs' },
    ...COMMON_FLAGS,
  },
  examples: ['vlac pair --model /models/VLAC --task "Pick up the cup." before.jpg after.jpg'],
};

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const model = requireFlag(p, 'model', spec);
  const task = requireFlag(p, 'task', spec);
  if (p.positionals.length !== 2) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac pair: give exactly two images, A and B');
  const vlac = await loadModel(p, model);
  try {
    const reference = listFlag(p, 'reference');
    const r = await vlac.pairCritic({
      task, first: p.positionals[0], second: p.positionals[1],
      ...(reference.length ? { reference } : {}),
      ...(intFlag(p, 'ref-num') !== undefined ? { refNum: intFlag(p, 'ref-num') } : {}),
      think: p.values.think === true, rich: p.values.rich === true,
      ...(intFlag(p, 'max-tokens') !== undefined ? { maxTokens: intFlag(p, 'max-tokens') } : {}),
    });
    print(p, r, () => `critic: ${r.critic ?? 'unparsable'}\nreply:  ${JSON.stringify(r.text)}\ntime:   ${r.timing.totalMs.toFixed(0)} ms`);
  } finally {
    await vlac.dispose();
  }
}
