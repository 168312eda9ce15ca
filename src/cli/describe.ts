import { COMMON_FLAGS, MODEL_FLAGS, intFlag, parse, requireFlag, type CommandSpec } from './args.js';
import { loadModel, print } from './load.js';
import { VlacError } from '../errors.js';

export const spec: CommandSpec = {
  name: 'describe',
  summary: "the official task-description prompt on a trajectory's first and last frames",
  usage: 'vlac describe --model DIR FIRST LAST',
  flags: { ...MODEL_FLAGS, ...COMMON_FLAGS },
  examples: ['vlac describe --model /models/VLAC episode/000.jpg episode/120.jpg'],
};

export async function run(argv: string[]): Promise<void> {
  const p = parse(spec, argv);
  const model = requireFlag(p, 'model', spec);
  if (p.positionals.length !== 2) throw new VlacError('ERR_VLAC_BAD_ARGUMENT', 'vlac describe: give the first and the last frame');
  const vlac = await loadModel(p, model);
  try {
    const r = await vlac.describe({
      first: p.positionals[0], last: p.positionals[1],
      ...(intFlag(p, 'max-tokens') !== undefined ? { maxTokens: intFlag(p, 'max-tokens') } : {}),
    });
    print(p, r, () => r.text);
  } finally {
    await vlac.dispose();
  }
}
